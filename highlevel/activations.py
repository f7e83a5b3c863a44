"""Activation functions by name, as in ``keras.activations``.

Every activation maps a tensor ``x`` of any shape to a tensor of the same shape
(``softmax``/``log_softmax`` normalize along ``axis``). They are plain functions over
``hl.ops``, so they run and differentiate on every backend.

``get(identifier)`` turns ``None`` (-> ``linear``), a name, a serialized dict or a
callable into a function; ``serialize``/``deserialize`` round-trip them by name.
"""

from __future__ import annotations

from highlevel import ops
from highlevel.saving import registry

_PACKAGE = "highlevel.activations"
_BY_NAME: dict = {}


def _activation(*aliases):
    """Register an activation under its own name (and aliases) for ``get`` and the registry."""

    def decorator(fn):
        registry.register_serializable(package=_PACKAGE)(fn)
        for name in (fn.__name__, *aliases):
            _BY_NAME[name] = fn
        return fn

    return decorator


@_activation()
def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Rectified linear unit, with Keras's options.

    ``x`` where ``x > threshold`` (clipped at ``max_value`` when given), else
    ``negative_slope * (x - threshold)``. The defaults give ``max(x, 0)``.
    """
    if negative_slope == 0.0 and threshold == 0.0:
        if max_value is None:
            return ops.relu(x)
        if max_value == 6:
            return ops.relu6(x)
        return ops.clip(ops.relu(x), 0.0, float(max_value))
    if threshold == 0.0 and max_value is None:
        return ops.leaky_relu(x, negative_slope=negative_slope)
    x = ops.convert_to_tensor(x)
    above = ops.greater(x, threshold)
    positive = ops.where(above, x, ops.zeros_like(x))
    if max_value is not None:
        positive = ops.clip(positive, 0.0, float(max_value))
    if negative_slope == 0.0:
        return positive
    # Keras: subtract negative_slope * relu(threshold - x) from the thresholded part.
    return ops.subtract(positive, ops.multiply(ops.relu(ops.subtract(threshold, x)), negative_slope))


@_activation()
def leaky_relu(x, negative_slope=0.2):
    """``x`` for ``x >= 0``, else ``negative_slope * x``."""
    return ops.leaky_relu(x, negative_slope=negative_slope)


@_activation()
def relu6(x):
    """``min(max(x, 0), 6)``."""
    return ops.relu6(x)


@_activation()
def sigmoid(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))``."""
    return ops.sigmoid(x)


@_activation()
def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis``."""
    return ops.softmax(x, axis=axis)


@_activation()
def log_softmax(x, axis=-1):
    """``x - logsumexp(x)`` along ``axis``."""
    return ops.log_softmax(x, axis=axis)


@_activation()
def tanh(x):
    """Hyperbolic tangent."""
    return ops.tanh(x)


@_activation()
def elu(x, alpha=1.0):
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``."""
    return ops.elu(x, alpha=alpha)


@_activation()
def selu(x):
    """Scaled ELU with the self-normalizing constants of Klambauer et al."""
    return ops.selu(x)


@_activation()
def gelu(x, approximate=False):
    """Gaussian error linear unit; exact (erf) by default, as Keras 3's activation."""
    return ops.gelu(x, approximate=approximate)


@_activation("swish")
def silu(x):
    """``x * sigmoid(x)`` (also called swish)."""
    return ops.silu(x)


@_activation()
def softplus(x):
    """``log(1 + exp(x))``, stable for large ``|x|``."""
    return ops.softplus(x)


@_activation()
def softsign(x):
    """``x / (1 + |x|)``."""
    return ops.softsign(x)


@_activation()
def hard_sigmoid(x):
    """Keras 3's piecewise-linear sigmoid ``clip(x / 6 + 0.5, 0, 1)``."""
    return ops.hard_sigmoid(x)


@_activation("hard_swish")
def hard_silu(x):
    """``x * hard_sigmoid(x)`` (also called hard swish)."""
    return ops.multiply(x, ops.hard_sigmoid(x))


@_activation()
def exponential(x):
    """``exp(x)``."""
    return ops.exp(x)


@_activation()
def mish(x):
    """``x * tanh(softplus(x))`` (Misra, 2019)."""
    return ops.multiply(x, ops.tanh(ops.softplus(x)))


@_activation()
def linear(x):
    """The identity: returns ``x`` unchanged."""
    return x


# Keras's aliases, also as module attributes.
swish = silu
hard_swish = hard_silu


def _valid_names() -> str:
    return ", ".join(sorted(_BY_NAME))


def get(identifier):
    """An activation function from ``None`` (linear), a name, a serialized dict or a callable.

    Unknown names raise ``ValueError`` listing the valid ones.
    """
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        fn = _BY_NAME.get(identifier)
        if fn is None:
            raise ValueError(f"unknown activation {identifier!r}; valid names: {_valid_names()}")
        return fn
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(f"cannot interpret {identifier!r} as an activation: expected None, a name "
                     f"({_valid_names()}), a dict from serialize() or a callable")


def serialize(activation):
    """The name of a built-in activation, or the registry's dict for a registered custom one.

    An unregistered function cannot be saved (files hold no code): ``ValueError``.
    """
    for name, fn in _BY_NAME.items():
        if fn is activation and name == fn.__name__:
            return name
    try:
        return registry.serialize(activation)
    except ValueError:
        raise ValueError(f"cannot serialize activation {activation!r}: it is not built in; register it "
                         f"with @hl.saving.register_serializable()") from None


def deserialize(config, custom_objects=None):
    """Inverse of ``serialize``: a name or a registry dict -> the function."""
    if isinstance(config, str):
        if custom_objects and config in custom_objects:
            return custom_objects[config]
        return get(config)
    fn = registry.deserialize(config, custom_objects=custom_objects, expected="activation")
    if not callable(fn):
        raise ValueError(f"deserialized activation {config!r} is not callable")
    return fn


# Names every user can rely on (``hl.activations.<name>``).
__all__ = sorted(_BY_NAME) + ["deserialize", "get", "serialize"]
