"""Stochastic gradient descent, with optional (Nesterov) momentum."""

from __future__ import annotations

from highlevel import ops
from highlevel.optimizers.base import Optimizer
from highlevel.saving import registry


@registry.register_serializable(package="highlevel")
class SGD(Optimizer):
    """Gradient descent with momentum, as Keras 3 defines it.

    Without momentum: ``w = w - lr * g``. With momentum (a velocity slot ``m``)::

        m = momentum * m - lr * g
        w = w + m                          (nesterov=False)
        w = w + momentum * m - lr * g      (nesterov=True, with the new m)

    Args:
        learning_rate: float, schedule or callable (default 0.01).
        momentum: float in [0, 1]; 0 keeps no state.
        nesterov: whether to apply Nesterov momentum.
        **kwargs: the common arguments of ``Optimizer`` (weight_decay, clipnorm, ...).
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 <= momentum <= 1:
            raise ValueError(f"SGD: `momentum` must be a float in [0, 1], got momentum={momentum!r}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.momentums = self.add_optimizer_variables(variables, "momentum") if self.momentum else []

    def _apply_fused(self, grads, variables, indices, learning_rate, next_iteration):
        # One op for every variable (see Adam._apply_fused).
        momentums, decay_mask = self._gather(indices, self.momentums if self.momentum else None)
        ops.sgd_update(variables, grads, momentums, learning_rate, momentum=self.momentum, nesterov=self.nesterov,
                       weight_decay=self.weight_decay, decay_mask=decay_mask)
        self._apply_constraints(variables)

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return config
