"""RMSprop, optionally centered and with momentum."""

from __future__ import annotations

from highlevel import ops
from highlevel.optimizers.base import Optimizer
from highlevel.saving import registry


@registry.register_serializable(package="highlevel")
class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e) in Keras 3's form::

        v = rho * v + (1 - rho) * g^2
        a = rho * a + (1 - rho) * g                    (centered only)
        step = lr * g / sqrt(v - a^2 + epsilon)        (centered; else sqrt(v + epsilon))
        m = momentum * m + step; w = w - m             (momentum > 0; else w = w - step)

    Args:
        learning_rate: float, schedule or callable (default 0.001).
        rho: decay of the moving average of squared gradients.
        momentum: momentum of the step (0 keeps no momentum slot).
        epsilon: added inside the square root.
        centered: normalize by the estimated variance instead of the second moment.
        **kwargs: the common arguments of ``Optimizer``.
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.rho = float(rho)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.centered = bool(centered)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._velocities = self.add_optimizer_variables(variables, "velocity")
        self._momentums = self.add_optimizer_variables(variables, "momentum") if self.momentum > 0 else []
        self._average_gradients = (self.add_optimizer_variables(variables, "average_gradient")
                                   if self.centered else [])
        self._c = self._constants(one_minus_rho=1.0 - self.rho, momentum=self.momentum, epsilon=self.epsilon)

    def _update(self, gradient, variable, index, learning_rate, decay):
        c = self._c
        velocity = self._velocities[index]
        # rho * v + (1 - rho) * g^2 written as v + (g^2 - v) * (1 - rho): one in-place add.
        velocity.assign_add(ops.multiply(ops.subtract(ops.square(gradient), velocity.value), c.one_minus_rho))
        if self.centered:
            average = self._average_gradients[index]
            average.assign_add(ops.multiply(ops.subtract(gradient, average.value), c.one_minus_rho))
            denominator = ops.add(ops.subtract(velocity.value, ops.square(average.value)), c.epsilon)
        else:
            denominator = ops.add(velocity.value, c.epsilon)
        increment = ops.divide(ops.multiply(gradient, learning_rate), ops.sqrt(denominator))
        if self.momentum > 0:
            momentum = self._momentums[index]
            increment = ops.add(ops.multiply(momentum.value, c.momentum), increment)
            momentum.assign(increment)
        self._descend(variable, increment, decay)

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                       "centered": self.centered})
        return config
