"""The ``Trainer`` mixin: compile/fit/evaluate/predict, written once for every backend.

``Model`` inherits it. The loop is: data adapter -> batches of backend tensors ->
one compiled step per mode (``hl.ops.compile_function``, built once per model) ->
callbacks -> tqdm progress. The default train step is

    loss, grads = value_and_grad(forward + compute_loss)
    grads = process_gradients(grads, variables)      # hook: all-reduce, custom clipping
    optimizer.apply(grads, variables)
    metric updates

When the model's outputs carry masks (``Embedding(mask_zero=True)``, ``Masking``), the
compiled loss and the mean metrics leave out the masked entries, as Keras 3 does; the
step finds the masks of its forward pass through ``output_masks``.

Before the first step of a mode is compiled, the model is built by an eager forward
pass on the first batch, the optimizer's slots and the metrics' state are created,
so that compiled steps never create variables (TensorFlow's tf.function forbids it).

Per-batch logs stay backend tensors: nothing is copied to the host per step unless
a callback asks for batch logs (the progress bar reads them a few times a second).
"""

from __future__ import annotations

import numpy as np

from highlevel import ops
from highlevel.trainers import compile_utils, nest, output_masks
from highlevel.trainers.data_adapters import (
    get_data_adapter,
    is_generator_like,
    split_for_validation,
    to_batch_tensor,
    to_host_array,
    unpack_x_y_sample_weight,
)
from highlevel.trainers.epoch_iterator import EpochIterator


def _to_python(value):
    """A host value for logs: a Python float for scalars, else a NumPy array."""
    if isinstance(value, (int, float)):
        return value
    array = np.asarray(ops.convert_to_numpy(value)) if ops.is_tensor(value) or hasattr(value, "numpy") \
        else np.asarray(value)
    return float(array) if array.ndim == 0 else array


def logs_to_python(logs) -> dict:
    return {key: _to_python(value) for key, value in (logs or {}).items()}


def _resolve_verbose(verbose) -> int:
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2) and not isinstance(verbose, bool):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    return int(verbose)


class Trainer:
    """Mixin giving models ``compile``/``fit``/``evaluate``/``predict`` (see the module docstring).

    It relies on the model for ``__call__(x, training=...)``, ``trainable_weights``,
    ``weights``, ``losses`` (regularization), ``built`` and optionally ``inputs``,
    ``input_names`` and ``output_names``.
    """

    # Class-level defaults: a model works before (and without) compile().
    compiled = False
    optimizer = None
    run_eagerly = False
    jit_compile = False
    stop_training = False
    history = None
    train_function = None
    test_function = None
    predict_function = None
    _compile_loss = None
    _compile_metrics = None
    _loss_tracker = None
    _compile_config = None
    _output_order = None
    _step_variables = None
    _metrics_cache = None
    _loss_sources = None

    # ------------------------------------------------------------------ compile

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, jit_compile=False):
        """Configure training.

        optimizer: name or ``Optimizer``; loss: name, ``Loss``, function, or a list/dict
        per output; loss_weights: number, list or dict per output; metrics /
        weighted_metrics: lists (or dicts per output) of names or ``Metric``s —
        ``weighted_metrics`` are weighted by ``sample_weight``/``class_weight``.
        run_eagerly: run steps uncompiled (debugging). jit_compile: XLA on TensorFlow
        (``"auto"`` means off: XLA is opt-in here).
        """
        from highlevel import optimizers
        from highlevel.trainers.loss_tracker import LossTracker

        if jit_compile not in (True, False, "auto"):
            raise ValueError(f"jit_compile must be True, False or 'auto', got {jit_compile!r}")
        output_names = self._model_output_names()
        self.optimizer = optimizers.get(optimizer)
        self._compile_loss = compile_utils.CompileLoss(loss, loss_weights, output_names) if loss is not None \
            else None
        if loss is None and loss_weights is not None:
            raise ValueError("loss_weights were given without a loss")
        self._compile_metrics = compile_utils.CompileMetrics(metrics, weighted_metrics, output_names) \
            if (metrics or weighted_metrics) else None
        self._loss_tracker = LossTracker(name="loss")
        self.run_eagerly = bool(run_eagerly)
        self.jit_compile = jit_compile is True
        self._compile_config = {"optimizer": optimizer, "loss": loss, "loss_weights": loss_weights,
                                "metrics": metrics, "weighted_metrics": weighted_metrics,
                                "run_eagerly": run_eagerly, "jit_compile": jit_compile}
        self._output_order = None
        self.train_function = self.test_function = self.predict_function = None
        self._step_variables = None
        self._metrics_cache = None
        self._loss_sources = None
        self.stop_training = False
        self.compiled = True

    def get_compile_config(self):
        """The arguments of the last ``compile`` with objects serialized (JSON-ready where possible)."""
        if not self.compiled:
            return None
        from highlevel.saving import registry

        def serial(value):
            if isinstance(value, (str, int, float, bool)) or value is None:
                return value
            if isinstance(value, (list, tuple)):
                return [serial(v) for v in value]
            if isinstance(value, dict) and "class_name" not in value:
                return {k: serial(v) for k, v in value.items()}
            if isinstance(value, dict):
                return value
            return registry.serialize(value)

        config = {k: serial(v) for k, v in self._compile_config.items()}
        config["optimizer"] = registry.serialize(self.optimizer)
        return config

    def compile_from_config(self, config):
        """Re-run ``compile`` from ``get_compile_config()``'s dict."""
        from highlevel import optimizers

        config = dict(config)
        if isinstance(config.get("optimizer"), dict):
            config["optimizer"] = optimizers.get(config["optimizer"])
        self.compile(**config)

    def _model_output_names(self):
        try:
            names = getattr(self, "output_names", None)
        except (AttributeError, ValueError):
            return None
        return list(names) if names else None

    def _assert_compiled(self, method):
        if not self.compiled:
            raise ValueError(f"{type(self).__name__} {getattr(self, 'name', '')!r}: you must call compile() "
                             f"before {method}()")

    # ------------------------------------------------------------------ metrics

    @property
    def metrics(self) -> list:
        """Every metric the model tracks: the loss tracker(s), compiled metrics, and any
        ``Metric`` set as an attribute of the model (as Keras tracks them)."""
        found = []
        if self.compiled:
            found.append(self._loss_tracker)
            if self._compile_loss is not None:
                found.extend(self._compile_loss.metrics)
            if self._compile_metrics is not None:
                found.extend(self._compile_metrics.metrics)
        found.extend(self._attribute_metrics())
        unique, seen = [], set()
        for metric in found:
            if metric is not None and id(metric) not in seen:
                seen.add(id(metric))
                unique.append(metric)
        return unique

    def _attribute_metrics(self) -> list:
        try:
            from highlevel.metrics import Metric
        except ImportError:
            return []
        out = []
        for key, value in vars(self).items():
            if key.startswith("_compile") or key == "_loss_tracker":
                continue
            values = value if isinstance(value, (list, tuple)) else [value]
            out.extend(v for v in values if isinstance(v, Metric))
        return out

    def _named_metrics(self) -> list:
        """``(log name, metric)`` for ``self.metrics``: compiled metrics under their log names."""
        if self._metrics_cache is not None:
            return self._metrics_cache
        named = []
        compiled_names = {}
        if self._compile_metrics is not None and self._compile_metrics.built:
            compiled_names = {id(m): n for n, m, _, _ in self._compile_metrics.entries}
        for metric in self.metrics:
            named.append((compiled_names.get(id(metric), metric.name), metric))
        return named

    def _cache_metrics(self, enabled=True):
        """Fix the metric list for the duration of a run (walking attributes every step is slow)."""
        self._metrics_cache = None
        if enabled:
            self._metrics_cache = self._named_metrics()

    @property
    def metrics_names(self) -> list:
        return [name for name, _ in self._named_metrics()]

    def reset_metrics(self):
        for metric in self.metrics:
            metric.reset_state()

    def get_metrics_result(self) -> dict:
        """``{log name: result tensor}`` for every tracked metric (dict results are merged)."""
        results = {}
        for name, metric in self._named_metrics():
            value = metric.result()
            if isinstance(value, dict):
                results.update(value)
            else:
                results[name] = value
        return results

    # ------------------------------------------------------------- loss & steps

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Total loss: the compiled loss(es) on ``(y, y_pred)`` plus ``self.losses``
        (regularization penalties). Returns a float32 scalar tensor."""
        terms = []
        if self._compile_loss is not None:
            if not self._compile_loss.built:
                self._compile_loss.build(y, y_pred)
            # The outputs' masks of this step's forward pass (Keras 3 masks the loss with them).
            masks = output_masks.lookup(self, x, y_pred, self._compile_loss.names)
            terms.append(self._compile_loss(y, y_pred, sample_weight, masks))
        terms.extend(self._regularization_losses())
        if not terms:
            return ops.zeros((), "float32")
        total = terms[0]
        for term in terms[1:]:
            total = ops.add(total, term)
        return total

    def _regularization_losses(self) -> list:
        """``self.losses``, from sources collected once per compiled step when possible.

        ``Layer.losses`` walks the layer tree on every access; a step only needs each
        layer's losses of the last call plus one penalty per regularized weight.
        """
        sources = self._loss_sources
        if sources is None:
            return self.losses
        layers, regularized = sources
        losses = [loss for layer in layers for loss in layer._losses]
        losses.extend(regularizer(variable) for variable, regularizer in regularized)
        return losses

    def _collect_loss_sources(self):
        from highlevel.layers.layer import Layer

        if getattr(type(self), "losses", None) is not Layer.losses or not hasattr(self, "_flatten_layers"):
            return None   # a model with its own ``losses`` keeps it
        layers = self._flatten_layers(include_self=True)
        if not all(isinstance(getattr(layer, "_losses", None), list) for layer in layers):
            return None
        regularized = [(v, v.regularizer) for v in self.trainable_weights if getattr(v, "regularizer", None)]
        return layers, regularized

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Update the compiled metrics with a batch and return ``get_metrics_result()``."""
        if self._compile_metrics is not None and y is not None:
            if not self._compile_metrics.built:
                self._build_compile_containers(y, y_pred)
            names = self._output_order
            flat_true = compile_utils.flatten_like_outputs(y, names, "y")
            flat_pred = compile_utils._ordered(y_pred, names)
            flat_weights = compile_utils.flatten_like_outputs(sample_weight, names, "sample_weight",
                                                              required=False)
            masks = output_masks.lookup(self, x, y_pred, names)
            self._compile_metrics.update_state(flat_true, flat_pred, flat_weights, masks)
        return self.get_metrics_result()

    def process_gradients(self, grads, variables):
        """Hook between computing and applying gradients (identity).

        A distribution strategy overrides it to all-reduce ``grads`` across replicas.
        """
        return grads

    def _trainable_for_step(self):
        # Collecting trainable weights walks the layer tree; do it once per compiled step.
        if self._step_variables is None:
            return self.trainable_weights
        return self._step_variables

    def train_step(self, data):
        """One optimization step on a batch ``(x, y[, sample_weight])``; returns the logs."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        variables = self._trainable_for_step()

        def forward():
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
            return loss, y_pred

        (loss, y_pred), grads = ops.value_and_grad(forward, variables, has_aux=True)
        grads = self.process_gradients(grads, variables)
        self.optimizer.apply(grads, variables)
        self._loss_tracker.update_state(ops.stop_gradient(loss), compile_utils.batch_size_of(x))
        y_pred = nest.map_structure(ops.stop_gradient, y_pred)
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def test_step(self, data):
        """Loss and metric updates on a batch without training; returns the logs."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=False)
        self._loss_tracker.update_state(loss, compile_utils.batch_size_of(x))
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def predict_step(self, data):
        """The model's outputs for a batch."""
        x, _, _ = unpack_x_y_sample_weight(data)
        return self(x, training=False)

    # ---------------------------------------------------- building and compiling

    def _build_compile_containers(self, y, y_pred):
        self._output_order = compile_utils.output_order(y_pred, self._model_output_names())
        if self._compile_loss is not None and not self._compile_loss.built and y is not None:
            self._compile_loss.build(y, y_pred)
        if self._compile_metrics is not None and not self._compile_metrics.built and y is not None:
            names = self._output_order
            losses = self._compile_loss.losses if self._compile_loss is not None else None
            self._compile_metrics.build(compile_utils.flatten_like_outputs(y, names, "y"),
                                        compile_utils._ordered(y_pred, names), names, losses)
            self._metrics_cache = None   # a run's cached metric list lacks the metrics just built

    def _overrides(self, method: str) -> bool:
        return getattr(type(self), method) is not getattr(Trainer, method)

    def _build_from_batch(self, data, mode: str):
        """Eagerly create every variable the compiled step of ``mode`` will use.

        A forward pass on the first batch builds the model and fixes the outputs'
        shapes, from which the compiled losses and metrics are resolved; then the
        optimizer's slots are created. Custom steps create their state on first use.
        """
        x, y, _ = unpack_x_y_sample_weight(data)
        custom = self._overrides({"train": "train_step", "test": "test_step"}.get(mode, "predict_step"))
        containers_pending = self.compiled and y is not None and (
            (self._compile_loss is not None and not self._compile_loss.built)
            or (self._compile_metrics is not None and not self._compile_metrics.built))
        if not custom and (not self.built or containers_pending or self._output_order is None):
            y_pred = self(x, training=False)
            if self.compiled:
                self._build_compile_containers(y, y_pred)
        if mode == "train" and not custom and self.optimizer is not None and not getattr(self.optimizer, "built",
                                                                                         False):
            self.optimizer.build(self.trainable_weights)

    def _compile_step(self, fn, mode):
        """``fn`` compiled once (``hl.ops.compile_function``), or as is with ``run_eagerly``.

        A user-written step (an overridden ``train_step``, ...) may create state on first
        use — optimizer slots, sub-layers built lazily — which a TensorFlow graph cannot
        own. Its first call therefore runs eagerly, and the compiled function takes
        over from the second call (``<mode>_function`` is replaced).
        """
        if self.run_eagerly:
            return fn
        compiled = ops.compile_function(fn, jit_compile=self.jit_compile)
        if not self._overrides(f"{mode}_step"):
            return compiled

        def first_call_eagerly(data):
            setattr(self, f"{mode}_function", compiled)
            return fn(data)

        return first_call_eagerly

    def make_train_function(self, force=False):
        if self.train_function is None or force:
            self._step_variables = list(self.trainable_weights) if not self._overrides("train_step") else None
            self._loss_sources = self._collect_loss_sources()
            train_step = self.train_step

            def one_train_step(data):
                return train_step(data)

            # With output masks, the step keeps them for the loss and metrics (see output_masks).
            self.train_function = self._compile_step(output_masks.wrap_step(self, one_train_step), "train")
        return self.train_function

    def make_test_function(self, force=False):
        if self.test_function is None or force:
            if self._loss_sources is None:
                self._loss_sources = self._collect_loss_sources()
            test_step = self.test_step

            def one_test_step(data):
                return test_step(data)

            self.test_function = self._compile_step(output_masks.wrap_step(self, one_test_step), "test")
        return self.test_function

    def make_predict_function(self, force=False):
        if self.predict_function is None or force:
            predict_step = self.predict_step

            def one_predict_step(data):
                return predict_step(data)

            self.predict_function = self._compile_step(one_predict_step, "predict")
        return self.predict_function

    def _prepare(self, data, mode):
        """The compiled step of ``mode``; on first use, build on this batch (eagerly) and compile it.

        Also fixes the metric list for the run (see ``_cache_metrics``).
        """
        if mode == "train":
            function = self.train_function
            if function is None:
                self._build_from_batch(data, "train")
                function = self.make_train_function()
        elif mode == "test":
            function = self.test_function
            if function is None:
                self._build_from_batch(data, "test")
                function = self.make_test_function()
        else:
            function = self.predict_function
            if function is None:
                if not self.built and not self._overrides("predict_step"):
                    self(unpack_x_y_sample_weight(data)[0], training=False)
                function = self.make_predict_function()
        if self._metrics_cache is None and mode != "predict":
            self._cache_metrics()
        return function

    # ------------------------------------------------------------------- inputs

    def _check_input_shapes(self, adapter):
        """Compare array inputs with the model's declared input shapes (clear error if they differ)."""
        x = getattr(adapter, "x", None)
        if x is None:
            return
        try:
            inputs = getattr(self, "inputs", None)
        except (AttributeError, ValueError):
            return
        if not inputs:
            return
        flat_inputs = list(inputs.values()) if isinstance(inputs, dict) else \
            list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        try:
            names = list(getattr(self, "input_names", None) or [])
        except (AttributeError, ValueError):
            names = []
        if len(names) != len(flat_inputs):
            names = [getattr(t, "name", None) or f"input_{i}" for i, t in enumerate(flat_inputs)]
        if isinstance(x, dict):
            if not set(names) <= set(x):
                missing = sorted(set(names) - set(x))
                raise ValueError(f"model {getattr(self, 'name', '')!r} expects inputs {names}; x (a dict with keys "
                                 f"{sorted(x)}) is missing {missing}")
            flat_x = [x[name] for name in names]
        else:
            flat_x = nest.flatten(x)
        if len(flat_x) != len(flat_inputs):
            raise ValueError(f"model {getattr(self, 'name', '')!r} expects {len(flat_inputs)} input(s) {names}, "
                             f"but x holds {len(flat_x)} array(s)")
        for name, tensor, array in zip(names, flat_inputs, flat_x):
            expected = tuple(getattr(tensor, "shape", ()) or ())
            if not expected:
                continue
            actual = tuple(array.shape)
            compatible = len(expected) == len(actual) and all(
                e is None or e == a for e, a in zip(expected[1:], actual[1:]))
            if not compatible:
                raise ValueError(f"input {name!r} of model {getattr(self, 'name', '')!r} expects shape "
                                 f"{(None,) + tuple(expected[1:])}, but x has shape {actual} "
                                 f"(features {actual[1:]} vs expected {tuple(expected[1:])})")

    def _make_adapter(self, x, y=None, sample_weight=None, batch_size=None, shuffle=False, class_weight=None):
        """The data adapter for a run (a distribution strategy can override it to shard by rank)."""
        adapter = get_data_adapter(x, y, sample_weight, batch_size=batch_size, shuffle=shuffle,
                                   class_weight=class_weight)
        self._check_input_shapes(adapter)
        return adapter

    # ---------------------------------------------------------------------- fit

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
        """Train for ``epochs`` epochs; returns the ``History`` (``history.history[name]`` per epoch).

        validation_split: the LAST fraction of the arrays (taken before shuffling)
        validates after every ``validation_freq`` epochs (an int, or a list of 1-based
        epoch numbers); validation_data: ``(x, y[, sample_weight])`` or a generator.
        """
        from highlevel.callbacks import CallbackList

        self._assert_compiled("fit")
        verbose = _resolve_verbose(verbose)
        if validation_split and validation_data is None:
            if is_generator_like(x):
                raise ValueError("validation_split is only supported for array inputs (NumPy arrays or backend "
                                 "tensors); with a generator or dataset object, pass validation_data")
            hosted = [nest.map_structure(lambda a, n=n: to_host_array(a, n), s)
                      for s, n in ((x, "x"), (y, "y"), (sample_weight, "sample_weight"))]
            (x, y, sample_weight), validation_data = split_for_validation(*hosted, validation_split)
        adapter = self._make_adapter(x, y, sample_weight, batch_size=batch_size, shuffle=shuffle,
                                     class_weight=class_weight)
        iterator = EpochIterator(adapter, steps_per_epoch)
        val_iterator = None
        if validation_data is not None:
            vx, vy, vsw = unpack_x_y_sample_weight(validation_data)
            if is_generator_like(vx):
                val_adapter = self._make_adapter(vx)
            else:
                val_adapter = self._make_adapter(vx, vy, vsw, batch_size=validation_batch_size or batch_size)
            val_iterator = EpochIterator(val_adapter, validation_steps)

        callback_list = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                                     verbose=verbose, epochs=epochs, steps=iterator.num_steps)
        self.stop_training = False
        self._metrics_cache = None
        try:   # (worker pools and loader iterators are released even when training fails)
            callback_list.on_train_begin()
            # BackupAndRestore sets (epoch, batches already done in it) when it restored a backup.
            initial_epoch, skip_steps = self.__dict__.pop("_resume_from", None) or (initial_epoch, 0)
            last_epoch_logs = {}
            for epoch in range(initial_epoch, epochs):
                self.reset_metrics()
                callback_list.on_epoch_begin(epoch)
                logs = None
                ran = False
                for step, data in iterator.epoch():
                    if skip_steps:
                        skip_steps -= 1   # trained on before the interruption
                        ran = True
                        continue
                    function = self._prepare(data, "train")
                    callback_list.on_train_batch_begin(step)
                    logs = function(data)
                    ran = True
                    callback_list.on_train_batch_end(step, logs)
                    if self.stop_training:
                        break
                if not ran:
                    break   # a generator ran dry (EpochIterator warned)
                epoch_logs = self._epoch_logs(logs)
                if val_iterator is not None and self._should_validate(epoch, validation_freq):
                    val_logs = self._evaluation_loop(val_iterator, callback_list)
                    epoch_logs.update({f"val_{key}": value for key, value in val_logs.items()})
                callback_list.on_epoch_end(epoch, epoch_logs)
                last_epoch_logs = epoch_logs
                if self.stop_training or iterator.exhausted:
                    break
            callback_list.on_train_end(last_epoch_logs)
        finally:
            iterator.close()
            if val_iterator is not None:
                val_iterator.close()
        self._metrics_cache = None
        return self.history

    @staticmethod
    def _should_validate(epoch, validation_freq) -> bool:
        if isinstance(validation_freq, int) and not isinstance(validation_freq, bool):
            if validation_freq < 1:
                raise ValueError(f"validation_freq must be a positive int or a list of epochs, got {validation_freq}")
            return (epoch + 1) % validation_freq == 0
        if isinstance(validation_freq, (list, tuple, set)):
            return (epoch + 1) in validation_freq
        raise ValueError(f"validation_freq must be a positive int or a list of epochs, got {validation_freq!r}")

    def _epoch_logs(self, logs) -> dict:
        """Host logs at the end of an epoch: the metrics' results when the step returned
        exactly those names, else the step's own last logs (a custom train_step)."""
        results = self.get_metrics_result()
        if logs is None or (isinstance(logs, dict) and set(logs) == set(results)):
            return logs_to_python(results)
        if not isinstance(logs, dict):
            raise TypeError(f"train_step/test_step must return a dict of logs, got {type(logs).__name__}")
        return logs_to_python(logs)

    # ----------------------------------------------------------------- evaluate

    def _evaluation_loop(self, iterator, callback_list) -> dict:
        self.reset_metrics()
        callback_list.on_test_begin()
        logs = None
        for step, data in iterator.epoch():
            function = self._prepare(data, "test")
            callback_list.on_test_batch_begin(step)
            logs = function(data)
            callback_list.on_test_batch_end(step, logs)
        logs = self._epoch_logs(logs)
        callback_list.on_test_end(logs)
        return logs

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """Loss and metrics on the data (metrics are reset first).

        Returns a dict (``return_dict=True``), else a list in ``metrics_names`` order,
        or a single float when only the loss is tracked.
        """
        from highlevel.callbacks import CallbackList

        self._assert_compiled("evaluate")
        verbose = _resolve_verbose(verbose)
        adapter = self._make_adapter(x, y, sample_weight, batch_size=batch_size, shuffle=False)
        iterator = EpochIterator(adapter, steps)
        callback_list = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1,
                                     steps=iterator.num_steps)
        self._metrics_cache = None
        try:
            logs = self._evaluation_loop(iterator, callback_list)
        finally:
            iterator.close()
        self._metrics_cache = None
        return logs if return_dict else self._flatten_logs(logs)

    def _flatten_logs(self, logs):
        order = [name for name in self.metrics_names if name in logs]
        values = [logs[name] for name in order] + [logs[k] for k in sorted(logs) if k not in order]
        return values[0] if len(values) == 1 else values

    # ------------------------------------------------------------------ predict

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Outputs for every sample of ``x`` as NumPy arrays (the model's output structure)."""
        from highlevel.callbacks import CallbackList

        verbose = _resolve_verbose(verbose)
        adapter = self._make_adapter(x, batch_size=batch_size, shuffle=False)
        iterator = EpochIterator(adapter, steps)
        callback_list = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1,
                                     steps=iterator.num_steps)
        try:
            callback_list.on_predict_begin()
            batches = []
            for step, data in iterator.epoch():
                function = self._prepare(data, "predict")
                callback_list.on_predict_batch_begin(step)
                outputs = function(data)
                batches.append(nest.map_structure(ops.convert_to_numpy, outputs))
                callback_list.on_predict_batch_end(step, {"outputs": outputs})
            callback_list.on_predict_end()
        finally:
            iterator.close()
        if not batches:
            raise ValueError("predict: x produced no batches")
        return _concatenate_batches(batches)

    # ---------------------------------------------------------- batch methods

    def _single_batch(self, x, y=None, sample_weight=None, class_weight=None):
        adapter = self._make_adapter(x, y, sample_weight, batch_size=2**62, shuffle=False, class_weight=class_weight)
        return next(iter(adapter.batches()))

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One training step on exactly this batch (metrics are reset first, as Keras 3)."""
        self._assert_compiled("train_on_batch")
        data = self._single_batch(x, y, sample_weight, class_weight)
        self._metrics_cache = None
        function = self._prepare(data, "train")
        self.reset_metrics()
        logs = logs_to_python(function(data))
        self._metrics_cache = None
        return logs if return_dict else self._flatten_logs(logs)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss and metrics on exactly this batch (metrics are reset first)."""
        self._assert_compiled("test_on_batch")
        data = self._single_batch(x, y, sample_weight)
        self._metrics_cache = None
        function = self._prepare(data, "test")
        self.reset_metrics()
        logs = logs_to_python(function(data))
        self._metrics_cache = None
        return logs if return_dict else self._flatten_logs(logs)

    def predict_on_batch(self, x):
        """The model's outputs for ``x`` as one batch, as NumPy arrays."""
        data = (nest.map_structure(to_batch_tensor, x),)
        function = self._prepare(data, "predict")
        return nest.map_structure(ops.convert_to_numpy, function(data))


def _concatenate_batches(batches):
    first = batches[0]
    if isinstance(first, dict):
        return {key: _concatenate_batches([b[key] for b in batches]) for key in first}
    if isinstance(first, (list, tuple)):
        parts = [_concatenate_batches([b[i] for b in batches]) for i in range(len(first))]
        return parts if isinstance(first, list) else tuple(parts)
    return batches[0] if len(batches) == 1 else np.concatenate(batches, axis=0)


__all__ = ["Trainer", "logs_to_python"]
