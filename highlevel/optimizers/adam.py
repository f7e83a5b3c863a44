"""Adam (with AMSGrad) and AdamW (Adam with decoupled weight decay)."""

from __future__ import annotations

from highlevel import ops
from highlevel.optimizers.base import Optimizer
from highlevel.saving import registry


@registry.register_serializable(package="highlevel")
class Adam(Optimizer):
    """Adam (Kingma & Ba, 2014) in Keras 3's form, with step ``t = iterations + 1``::

        m = m + (g - m) * (1 - beta_1)
        v = v + (g^2 - v) * (1 - beta_2)
        v_hat = max(v_hat, v) if amsgrad else v
        w = w - lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v_hat) + epsilon)

    One ``hl.ops.adam_update`` call updates every variable of a step.

    Args:
        learning_rate: float, schedule or callable (default 0.001).
        beta_1, beta_2: decay rates of the first and second moment estimates.
        epsilon: added to the denominator (Keras's "epsilon hat").
        amsgrad: keep the running maximum of ``v`` (Reddi et al., 2018).
        **kwargs: the common arguments of ``Optimizer``.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        self.amsgrad = bool(amsgrad)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._momentums, self._velocities = self.add_optimizer_variables(variables, ["momentum", "velocity"])
        self._velocity_hats = self.add_optimizer_variables(variables, "velocity_hat") if self.amsgrad else None

    def _apply_fused(self, grads, variables, indices, learning_rate, next_iteration):
        # One op for every variable: the backend runs it its fastest way (torch: a few
        # multi-tensor in-place kernels; NumPy: in-place ndarray updates; TensorFlow: the
        # protocol's composite of plain ops).
        momentums, velocities, velocity_hats, decay_mask = self._gather(
            indices, self._momentums, self._velocities, self._velocity_hats)
        ops.adam_update(variables, grads, momentums, velocities, velocity_hats, learning_rate, next_iteration,
                        beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon,
                        weight_decay=self.weight_decay, decay_mask=decay_mask)
        self._apply_constraints(variables)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                       "amsgrad": self.amsgrad})
        return config


@registry.register_serializable(package="highlevel")
class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    Each step first shrinks every variable: ``w = w - lr * weight_decay * w``, then
    applies the Adam update. ``weight_decay`` defaults to 0.004 and must be set.
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, clipnorm=None, clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        if weight_decay is None:
            raise ValueError("AdamW: argument `weight_decay` must be a float, got weight_decay=None")
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
