"""Autodiff and compilation services: ``value_and_grad`` (a GradientTape) and
``compile_function`` (``tf.function``, XLA on request)."""

from __future__ import annotations

import functools
import re

from ..protocol import InvalidArgumentError
from ._engine import tf
from .core import FLOATS, Variable, tensor

_ZERO = tf.UnconnectedGradients.ZERO


def _handle(variable):
    """The ``tf.Variable`` (or tensor) a tape watches for one entry of ``variables``."""
    if isinstance(variable, Variable):
        return variable._var
    if isinstance(variable, (tf.Variable, tf.Tensor)):
        return variable
    raise InvalidArgumentError(f"value_and_grad: expected Variables, got an object of type "
                               f"{type(variable).__name__}")


def value_and_grad(fn, variables, has_aux=False):
    """Run ``fn()`` on a tape and differentiate its scalar result w.r.t. ``variables``.

    Returns ``(value, grads)`` or, with ``has_aux``, ``((value, aux), grads)``; ``grads``
    is aligned with ``variables`` and holds zeros for variables ``fn`` does not use
    (and for integer variables). Works eagerly and inside ``compile_function``, nested.
    """
    handles = [_handle(v) for v in variables]
    watched = [h for h in handles if h.dtype in FLOATS]
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(watched)
        out = fn()
    if has_aux:
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise InvalidArgumentError("value_and_grad: with has_aux=True, fn must return a (value, aux) pair")
        value, aux = out
    else:
        value, aux = out, None
    value = tensor(value)
    if value.shape.num_elements() not in (1, None):
        raise InvalidArgumentError(f"value_and_grad: fn must return a scalar, got shape {tuple(value.shape)}")
    if value.dtype not in FLOATS:
        raise InvalidArgumentError(f"value_and_grad: fn must return a float scalar, got dtype {value.dtype.name}")
    found = iter(tape.gradient(value, watched, unconnected_gradients=_ZERO)) if watched else iter(())
    grads = []
    for h in handles:
        if h.dtype in FLOATS:
            g = next(found)
            # gather's gradient is sparse; callers get plain dense tensors.
            grads.append(tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g)
        else:
            grads.append(tf.zeros(h.shape, h.dtype))
    return ((value, aux) if has_aux else value), grads


def _graph_error_message(error) -> str:
    """The readable part of a failure inside a graph: for our own value checks, the
    assertion's message and data (``take: indices must be in ...; got min, max = 0 7``)."""
    text = error.message if getattr(error, "message", None) else str(error)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    marker = "assertion failed: "
    # With a traceback ("Graph execution error: ... Detected at node"), the assertion
    # is on a later line, not the first.
    asserted = [line for line in lines if marker in line]
    first = asserted[0] if asserted else (lines[0] if lines else type(error).__name__)
    if marker in first:
        parts = first.split(marker, 1)[1].strip()
        if parts.startswith("[") and parts.endswith("]"):
            pieces = [p.strip() for p in parts[1:-1].split("] [")]
            return " ".join(pieces)
    return re.sub(r"\{\{function_node [^}]*\}\}\s*", "", first)


def compile_function(fn, jit_compile=False):
    """``fn`` traced into a TensorFlow graph (``tf.function``; XLA with ``jit_compile``).

    Retraces only for new input shapes/dtypes (or new Python values of non-tensor
    arguments). A value check that fails while the graph runs (index or label out of
    range) raises ``InvalidArgumentError`` like the eager op would.
    """
    # autograph=False: backend-agnostic code has no tensor-dependent Python control flow
    # to convert (it could not run on the other engines' compilers either), tracing is
    # faster, and errors raised while tracing keep their type (autograph re-wraps
    # InvalidArgumentError into its StagingError).
    compiled = tf.function(fn, jit_compile=bool(jit_compile), reduce_retracing=False, autograph=False)
    name = getattr(fn, "__name__", "compiled function")

    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return compiled(*args, **kwargs)
        except tf.errors.InvalidArgumentError as error:
            raise InvalidArgumentError(f"{_graph_error_message(error)} (in compiled function {name})") from error

    run.tf_function = compiled
    return run
