"""The containers behind ``compile(loss=..., metrics=...)``: one loss/metric set per output.

A model's outputs are flattened in a fixed order — ``model.output_names`` when the
outputs are a dict with those keys (else the sorted keys), the list order for a list
— and every per-output spec (a loss, a list of metrics, a loss weight, a sample
weight) may be given once for all outputs, as a list in that order, or as a dict
keyed by output name, as in Keras.

Log names follow Keras 3: ``"loss"`` (the weighted total, regularization included),
``"<output>_loss"`` (each output's unweighted loss, multi-output models only),
``"<metric>"`` or ``"<output>_<metric>"``; a string metric is named by the string
the user wrote (``"mse"``, ``"acc"``); a weighted metric whose name is taken gets the
prefix ``"weighted_"``.
"""

from __future__ import annotations

from highlevel import ops
from highlevel.trainers import nest

_RESOLVED_NAMES = ("accuracy", "acc", "crossentropy", "ce")   # chosen per output by hl.metrics.resolve


# ------------------------------------------------------------------ flattening


def output_order(y_pred, output_names=None) -> list:
    """Names of the model outputs in flattening order (see the module docstring)."""
    if isinstance(y_pred, dict):
        if output_names and set(y_pred) == set(output_names):
            return list(output_names)
        return sorted(y_pred)
    if isinstance(y_pred, (list, tuple)):
        count = len(y_pred)
        if output_names and len(output_names) == count:
            return list(output_names)
        return [f"output_{i}" for i in range(count)]
    if output_names and len(output_names) == 1:
        return list(output_names)
    return ["output"]


def flatten_like_outputs(value, names: list, what: str, required: bool = True) -> list:
    """``value`` as one entry per output (``names`` order).

    A dict is looked up by output name (missing names give ``None``); a list/tuple must
    have one entry per output; anything else is used for every output when
    ``required`` is False, or for the only output.
    """
    count = len(names)
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown and not (count == 1 and len(value) == 1):
            raise ValueError(f"{what}: keys {unknown} are not output names of the model; "
                             f"the outputs are {names}")
        if count == 1 and len(value) == 1:
            return list(value.values())
        return [value.get(name) for name in names]
    if isinstance(value, (list, tuple)) and count > 1:
        if len(value) != count:
            raise ValueError(f"{what}: the model has {count} outputs {names}, but {len(value)} entries were given")
        return list(value)
    if count > 1 and required and value is not None:
        raise ValueError(f"{what}: the model has {count} outputs {names}; give one entry per output "
                         f"(a list in that order or a dict keyed by output name)")
    return [value] * count


def batch_size_of(x):
    """Static number of samples in a batch (the first axis of the first leaf)."""
    for leaf in nest.flatten(x):
        if leaf is not None:
            return ops.shape(leaf)[0]
    return None


# ---------------------------------------------------------------------- losses


class CompileLoss:
    """Resolves the compiled loss for every output and returns the weighted total.

    loss: a loss identifier used for every output, a list (one per output) or a
    dict keyed by output name (outputs left out get no loss). loss_weights: a number,
    list or dict (default 1.0). Strings are checked at construction so that
    ``compile`` fails early on a typo.
    """

    def __init__(self, loss, loss_weights=None, output_names=None):
        from highlevel import losses

        self._user_loss = loss
        self._user_weights = loss_weights
        self.output_names = list(output_names) if output_names else None
        for identifier in nest.flatten(loss):
            if isinstance(identifier, str) and identifier.lower() not in ("crossentropy", "ce"):
                losses.get(identifier)
        for weight in nest.flatten(loss_weights):
            if weight is not None and not isinstance(weight, (int, float)):
                raise ValueError(f"loss_weights must be numbers (a number, a list or a dict of them), got {weight!r}")
        self.built = False
        self.names = []
        self.losses = []
        self.weights = []
        self.trackers = []

    def build(self, y_true, y_pred):
        """Pick each output's loss from the first batch's targets and predictions."""
        from highlevel import losses

        self.names = output_order(y_pred, self.output_names)
        flat_pred = _ordered(y_pred, self.names)
        flat_true = self.flatten_targets(y_true)
        specs = flatten_like_outputs(self._user_loss, self.names, "loss", required=False)
        weights = flatten_like_outputs(self._user_weights, self.names, "loss_weights", required=False)
        self.losses, self.weights = [], []
        for name, spec, weight, yt, yp in zip(self.names, specs, weights, flat_true, flat_pred):
            if spec is None:
                self.losses.append(None)
                self.weights.append(0.0)
                continue
            if yt is None:
                raise ValueError(f"output {name!r} has a loss but no targets were given for it")
            self.losses.append(losses.resolve(spec, ops.shape(yt), ops.shape(yp)))
            self.weights.append(1.0 if weight is None else float(weight))
        if all(loss is None for loss in self.losses):
            raise ValueError(f"compile(loss=...) gives no loss for any of the outputs {self.names}")
        self.trackers = []
        if len(self.names) > 1:
            from highlevel.trainers.loss_tracker import LossTracker
            self.trackers = [LossTracker(name=f"{name}_loss") if loss is not None else None
                             for name, loss in zip(self.names, self.losses)]
        self.built = True

    def flatten_targets(self, y_true) -> list:
        return flatten_like_outputs(y_true, self.names, "y", required=True) if y_true is not None \
            else [None] * len(self.names)

    @property
    def metrics(self) -> list:
        """The per-output loss trackers (multi-output models only)."""
        return [t for t in self.trackers if t is not None]

    def __call__(self, y_true, y_pred, sample_weight=None, output_masks=None):
        """Weighted sum of the per-output losses (a scalar tensor).

        output_masks: ``None`` or one mask (or ``None``) per output in ``names`` order: the
        outputs' masks from the forward pass, applied as Keras 3 applies ``y_pred._keras_mask``.
        """
        if not self.built:
            self.build(y_true, y_pred)
        flat_pred = _ordered(y_pred, self.names)
        flat_true = self.flatten_targets(y_true)
        flat_weights = flatten_like_outputs(sample_weight, self.names, "sample_weight", required=False)
        trackers = self.trackers or [None] * len(self.names)
        masks = output_masks or [None] * len(self.names)
        total = None
        for loss, weight, tracker, yt, yp, sw, mask in zip(self.losses, self.weights, trackers, flat_true,
                                                           flat_pred, flat_weights, masks):
            if loss is None:
                continue
            value = loss(yt, yp, sample_weight=sw) if mask is None else _masked_loss(loss, yt, yp, sw, mask)
            if tracker is not None:
                tracker.update_state(ops.stop_gradient(value), batch_size_of(yp))
            term = value if weight == 1.0 else ops.multiply(value, weight)
            total = term if total is None else ops.add(total, term)
        return total


def _masked_loss(loss, y_true, y_pred, sample_weight, mask):
    """``loss`` on one output whose entries are masked by ``mask`` (see ``Loss._call_masked``).

    A loss with its own ``__call__`` cannot be handed the mask (Keras's would read it from
    the tensor if it wanted to): it is called as usual and sees every entry.
    """
    from highlevel.losses.loss import Loss

    if isinstance(loss, Loss) and type(loss).__call__ is Loss.__call__:
        return loss._call_masked(y_true, y_pred, sample_weight, mask)
    return loss(y_true, y_pred, sample_weight=sample_weight)


def _ordered(y_pred, names) -> list:
    if isinstance(y_pred, dict):
        return [y_pred[name] for name in names]
    if isinstance(y_pred, (list, tuple)):
        return list(y_pred)
    return [y_pred]


# --------------------------------------------------------------------- metrics


def resolve_metric(identifier, y_true, y_pred, loss=None):
    """A metric object for ``identifier``, named as Keras 3 names it.

    ``"accuracy"``/``"acc"`` (and ``"crossentropy"``/``"ce"``) pick the variant that
    fits the output's loss and the shapes (``hl.metrics.resolve``); a metric given by
    a string is named by that string.
    """
    from highlevel import metrics

    return metrics.resolve(identifier, loss=loss, output_shape=ops.shape(y_pred), y_true_shape=ops.shape(y_true))


def _check_metric_names(spec, what):
    from highlevel import metrics

    for identifier in nest.flatten(spec):
        if isinstance(identifier, str) and identifier.lower() not in _RESOLVED_NAMES:
            metrics.get(identifier)
        elif identifier is not None and not isinstance(identifier, str) and not callable(identifier) \
                and not hasattr(identifier, "update_state") and not isinstance(identifier, dict):
            raise ValueError(f"{what}: cannot interpret {identifier!r} as a metric")


class CompileMetrics:
    """The compiled metrics of every output: ``metrics`` (unweighted) and ``weighted_metrics``.

    Each is a list of metrics (for a single output, or applied to every output when it
    is not one-list-per-output), a list of lists (one per output) or a dict keyed by
    output name.
    """

    def __init__(self, metrics=None, weighted_metrics=None, output_names=None):
        for spec, what in ((metrics, "metrics"), (weighted_metrics, "weighted_metrics")):
            if spec is not None and not isinstance(spec, (list, tuple, dict)):
                raise ValueError(f"{what} must be a list or a dict, got {type(spec).__name__} ({spec!r}); "
                                 f"write {what}=[{spec!r}]")
            _check_metric_names(spec, what)
        self._user_metrics = metrics
        self._user_weighted = weighted_metrics
        self.output_names = list(output_names) if output_names else None
        self.built = False
        self.entries = []   # (log name, metric, output index, weighted)

    def _per_output(self, spec, names, what) -> list:
        count = len(names)
        if not spec:
            return [[] for _ in names]
        if count == 1:
            items = list(spec.values()) if isinstance(spec, dict) else list(spec)
            return [[m for item in items for m in (item if isinstance(item, (list, tuple)) else [item])
                     if m is not None]]
        if isinstance(spec, dict):
            per = flatten_like_outputs(spec, names, what, required=False)
        elif len(spec) == count and all(isinstance(s, (list, tuple)) or s is None for s in spec):
            per = list(spec)
        elif len(spec) == count:
            per = list(spec)   # Keras 3: a list as long as the outputs has one entry per output
        else:
            per = [list(spec)] * count
        return [[] if s is None else (list(s) if isinstance(s, (list, tuple)) else [s]) for s in per]

    def build(self, flat_true, flat_pred, names, flat_losses=None):
        taken = {"loss"} | {f"{n}_loss" for n in names}
        self.entries = []
        for weighted, spec, what in ((False, self._user_metrics, "metrics"),
                                     (True, self._user_weighted, "weighted_metrics")):
            for index, identifiers in enumerate(self._per_output(spec, names, what)):
                for identifier in identifiers:
                    yt, yp = flat_true[index], flat_pred[index]
                    if yt is None:
                        raise ValueError(f"output {names[index]!r} has metrics but no targets were given for it")
                    loss = flat_losses[index] if flat_losses else None
                    metric = resolve_metric(identifier, yt, yp, loss)
                    base = identifier if isinstance(identifier, str) else metric.name
                    name = base if len(names) == 1 else f"{names[index]}_{base}"
                    if weighted and name in taken:
                        name = f"weighted_{base}" if len(names) == 1 else f"{names[index]}_weighted_{base}"
                    unique, suffix = name, 1
                    while unique in taken:
                        unique, suffix = f"{name}_{suffix}", suffix + 1
                    taken.add(unique)
                    build = getattr(metric, "build", None)
                    if build is not None and not getattr(metric, "built", True):
                        build(ops.shape(yt), ops.shape(yp))
                    self.entries.append((unique, metric, index, weighted))
        self.built = True

    @property
    def metrics(self) -> list:
        return [metric for _, metric, _, _ in self.entries]

    @property
    def names(self) -> list:
        return [name for name, _, _, _ in self.entries]

    def update_state(self, flat_true, flat_pred, flat_sample_weight, flat_masks=None):
        """flat_masks: ``None`` or the outputs' masks (see ``CompileLoss.__call__``). As in Keras 3,
        a mean metric (``MeanMetricWrapper``: accuracies, mse, ...) weighted or not counts only
        the unmasked entries (the mask joins its sample weight); other metrics ignore masks."""
        for _, metric, index, weighted in self.entries:
            sample_weight = flat_sample_weight[index] if weighted else None
            if flat_masks is not None and flat_masks[index] is not None:
                sample_weight = _masked_metric_weight(metric, sample_weight, flat_masks[index])
            metric.update_state(flat_true[index], flat_pred[index], sample_weight=sample_weight)

    def results(self) -> dict:
        return {name: metric.result() for name, metric, _, _ in self.entries}


def _masked_metric_weight(metric, sample_weight, mask):
    """``sample_weight`` with ``mask``'s zeros folded in, for the metrics Keras 3 masks."""
    from highlevel.losses.loss import apply_mask
    from highlevel.metrics.reduction import MeanMetricWrapper

    if not isinstance(metric, MeanMetricWrapper):
        return sample_weight
    return apply_mask(sample_weight, mask, metric.dtype, "sum")
