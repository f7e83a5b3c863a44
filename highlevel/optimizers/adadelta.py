"""Adadelta: steps scaled by the ratio of running RMS of updates and of gradients."""

from __future__ import annotations

from highlevel import ops
from highlevel.optimizers.base import Optimizer
from highlevel.saving import registry


@registry.register_serializable(package="highlevel")
class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012) in Keras 3's form (note the learning rate, 0.001 by
    default, still multiplies the step)::

        Eg  = rho * Eg + (1 - rho) * g^2
        dx  = -sqrt(Edx + epsilon) / sqrt(Eg + epsilon) * g
        Edx = rho * Edx + (1 - rho) * dx^2
        w   = w + lr * dx

    Args:
        learning_rate: float, schedule or callable (default 0.001).
        rho: decay rate of both running averages.
        epsilon: added inside the square roots.
        **kwargs: the common arguments of ``Optimizer``.
    """

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.rho = float(rho)
        self.epsilon = float(epsilon)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._accumulated_grads, self._accumulated_delta_vars = self.add_optimizer_variables(
            variables, ["accumulated_grad", "accumulated_delta_var"])
        self._c = self._constants(one_minus_rho=1.0 - self.rho, epsilon=self.epsilon)

    def _update(self, gradient, variable, index, learning_rate, decay):
        c = self._c
        acc_grad, acc_delta = self._accumulated_grads[index], self._accumulated_delta_vars[index]
        acc_grad.assign_add(ops.multiply(ops.subtract(ops.square(gradient), acc_grad.value), c.one_minus_rho))
        # delta here is -dx: the amount subtracted from w (saves a negation).
        delta = ops.divide(ops.multiply(ops.sqrt(ops.add(acc_delta.value, c.epsilon)), gradient),
                           ops.sqrt(ops.add(acc_grad.value, c.epsilon)))
        acc_delta.assign_add(ops.multiply(ops.subtract(ops.square(delta), acc_delta.value), c.one_minus_rho))
        self._descend(variable, ops.multiply(delta, learning_rate), decay)

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "epsilon": self.epsilon})
        return config
