"""``LossTracker``: the running mean of a scalar loss that fills the ``"loss"`` logs."""

from __future__ import annotations

from highlevel import ops
from highlevel.metrics import Metric


class LossTracker(Metric):
    """Mean of scalar batch losses weighted by batch size (Keras's loss trackers).

    ``update_state(value, batch_size)``: value a scalar tensor, batch_size a Python
    int (static in compiled steps). The epoch's ``result()`` is then the per-sample
    average of the batch losses, which is what ``evaluate`` reports for fixed weights.
    """

    def __init__(self, name="loss", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), initializer="zeros", name="total")
        self.count = self.add_variable((), initializer="zeros", name="count")

    def update_state(self, value, batch_size=1):
        weight = float(1 if batch_size is None else batch_size)
        self.total.assign_add(ops.multiply(value, weight))
        self.count.assign_add(weight)

    def result(self):
        # count is 0 (then total is 0 too) or a sum of batch sizes >= 1: no division by zero.
        return ops.divide(self.total, ops.maximum(self.count, 1.0))

    def reset_state(self):
        for variable in (self.total, self.count):
            variable.assign(ops.zeros((), "float32"))
