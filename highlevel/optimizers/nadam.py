"""Nadam: Adam with Nesterov momentum and Dozat's momentum schedule."""

from __future__ import annotations

from highlevel import ops
from highlevel.optimizers.base import Optimizer
from highlevel.saving import registry


@registry.register_serializable(package="highlevel")
class Nadam(Optimizer):
    """Nadam (Dozat, 2016) in Keras 3's form, ``t = iterations + 1``::

        mu_t  = beta_1 * (1 - 0.5 * 0.96^t)        mu_t1 = beta_1 * (1 - 0.5 * 0.96^(t+1))
        P     = P * mu_t                            (P: the running product, a state Variable)
        m = m + (g - m) * (1 - beta_1);  v = v + (g^2 - v) * (1 - beta_2)
        m_hat = mu_t1 * m / (1 - P * mu_t1) + (1 - mu_t) * g / (1 - P)
        v_hat = v / (1 - beta_2^t)
        w = w - lr * m_hat / (sqrt(v_hat) + epsilon)

    Every scalar above is computed once per step.

    Args:
        learning_rate: float, schedule or callable (default 0.001).
        beta_1, beta_2: decay rates of the first and second moment estimates.
        epsilon: added to the denominator.
        **kwargs: the common arguments of ``Optimizer``.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._momentums, self._velocities = self.add_optimizer_variables(variables, ["momentum", "velocity"])
        self._u_product = self.add_variable((), initializer="ones", name="u_product")
        self._c = self._constants(beta_1=self.beta_1, beta_2=self.beta_2, one_minus_beta_1=1.0 - self.beta_1,
                                  one_minus_beta_2=1.0 - self.beta_2, epsilon=self.epsilon, decay=0.96)

    def _step_constants(self, learning_rate, next_iteration):
        c, one = self._c, self._one
        t = ops.cast(next_iteration, "float32")
        decay_t = ops.power(c.decay, t)
        mu_t = ops.multiply(ops.subtract(one, ops.multiply(decay_t, 0.5)), c.beta_1)
        mu_t1 = ops.multiply(ops.subtract(one, ops.multiply(decay_t, 0.5 * 0.96)), c.beta_1)
        product = ops.multiply(self._u_product.value, mu_t)
        self._u_product.assign(product)
        m_coefficient = ops.divide(mu_t1, ops.subtract(one, ops.multiply(product, mu_t1)))
        g_coefficient = ops.divide(ops.subtract(one, mu_t), ops.subtract(one, product))
        v_coefficient = ops.reciprocal(ops.subtract(one, ops.power(c.beta_2, t)))
        return learning_rate, m_coefficient, g_coefficient, v_coefficient

    def _update(self, gradient, variable, index, step, decay):
        learning_rate, m_coefficient, g_coefficient, v_coefficient = step
        c = self._c
        m, v = self._momentums[index], self._velocities[index]
        m.assign_add(ops.multiply(ops.subtract(gradient, m.value), c.one_minus_beta_1))
        v.assign_add(ops.multiply(ops.subtract(ops.square(gradient), v.value), c.one_minus_beta_2))
        m_hat = ops.add(ops.multiply(m.value, m_coefficient), ops.multiply(gradient, g_coefficient))
        denominator = ops.add(ops.sqrt(ops.multiply(v.value, v_coefficient)), c.epsilon)
        self._descend(variable, ops.divide(ops.multiply(m_hat, learning_rate), denominator), decay)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config
