"""Adagrad: per-coordinate rates scaled by accumulated squared gradients."""

from __future__ import annotations

from highlevel import ops
from highlevel.optimizers.base import Optimizer
from highlevel.saving import registry


@registry.register_serializable(package="highlevel")
class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011) in Keras 3's form::

        acc = acc + g^2                       (acc starts at initial_accumulator_value)
        w = w - lr * g / sqrt(acc + epsilon)

    Args:
        learning_rate: float, schedule or callable (default 0.001).
        initial_accumulator_value: starting value of the accumulators (>= 0).
        epsilon: added inside the square root.
        **kwargs: the common arguments of ``Optimizer``.
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        if not initial_accumulator_value >= 0:
            raise ValueError(f"Adagrad: `initial_accumulator_value` must be >= 0, got {initial_accumulator_value!r}")
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._accumulators = self.add_optimizer_variables(variables, "accumulator",
                                                          initializer=self.initial_accumulator_value)
        self._c = self._constants(epsilon=self.epsilon)

    def _update(self, gradient, variable, index, learning_rate, decay):
        accumulator = self._accumulators[index]
        accumulator.assign_add(ops.square(gradient))
        self._descend(variable, ops.divide(ops.multiply(gradient, learning_rate),
                                           ops.sqrt(ops.add(accumulator.value, self._c.epsilon))), decay)

    def get_config(self):
        config = super().get_config()
        config.update({"initial_accumulator_value": self.initial_accumulator_value, "epsilon": self.epsilon})
        return config
