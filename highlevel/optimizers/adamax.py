"""Adamax: Adam with the infinity norm in place of the second moment."""

from __future__ import annotations

from highlevel import ops
from highlevel.optimizers.base import Optimizer
from highlevel.saving import registry


@registry.register_serializable(package="highlevel")
class Adamax(Optimizer):
    """Adamax (Kingma & Ba, 2014, section 7) in Keras 3's form, ``t = iterations + 1``::

        m = m + (g - m) * (1 - beta_1)
        u = max(beta_2 * u, |g|)
        w = w - lr / (1 - beta_1^t) * m / (u + epsilon)

    Args:
        learning_rate: float, schedule or callable (default 0.001).
        beta_1: decay of the first moment; beta_2: decay of the infinity norm.
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
        self._m, self._u = self.add_optimizer_variables(variables, ["momentum", "norm"])
        self._c = self._constants(beta_1=self.beta_1, beta_2=self.beta_2, one_minus_beta_1=1.0 - self.beta_1,
                                  epsilon=self.epsilon)

    def _step_constants(self, learning_rate, next_iteration):
        beta_1_power = ops.power(self._c.beta_1, ops.cast(next_iteration, "float32"))
        return ops.divide(learning_rate, ops.subtract(self._one, beta_1_power))

    def _update(self, gradient, variable, index, rate, decay):
        c = self._c
        m, u = self._m[index], self._u[index]
        m.assign_add(ops.multiply(ops.subtract(gradient, m.value), c.one_minus_beta_1))
        u_new = ops.maximum(ops.multiply(u.value, c.beta_2), ops.abs(gradient))
        u.assign(u_new)
        self._descend(variable, ops.divide(ops.multiply(m.value, rate), ops.add(u_new, c.epsilon)), decay)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config
