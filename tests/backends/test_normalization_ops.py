"""The normalization ops ``normalize_batch`` and ``layer_normalization`` against NumPy.

They sit outside the op table (``op_table.NORMALIZATION_OPS``): ``normalize_batch``
returns three tensors of which two (the batch statistics) carry no gradient by contract,
and ``layer_normalization`` takes several axes. Each case runs the backend's own op
(torch: ``native_batch_norm``, ``F.layer_norm``) and the protocol's composite built on
the backend, and compares with a float64 NumPy computation: forward values, gradients of
every float argument against central finite differences (eager and compiled), zero
gradient through the returned statistics, and bad input.
"""

import numpy as np
import pytest

from conformance_utils import rng_for
from highlevel.backends import build_composite
from highlevel.backends.protocol import InvalidArgumentError

EPS = 1e-3


def np_normalize_batch(x, axis, offset=None, scale=None, epsilon=EPS):
    axis = axis % x.ndim
    axes = tuple(i for i in range(x.ndim) if i != axis)
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    shape = [1] * x.ndim
    shape[axis] = -1
    out = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + epsilon)
    if scale is not None:
        out = out * scale.reshape(shape)
    if offset is not None:
        out = out + offset.reshape(shape)
    return out, mean, var


CASES = [((6, 4), -1, True), ((6, 4), 1, False), ((3, 4, 5), 1, True), ((2, 3, 3, 4), -1, True),
         ((2, 4, 3, 3), 1, True), ((4, 3, 2), 0, False)]
IDS = [f"{'x'.join(map(str, s))}-axis{a}-{'affine' if p else 'plain'}" for s, a, p in CASES]


def make_args(shape, axis, affine, key):
    rng = rng_for(f"normalize_batch-{shape}-{axis}-{key}")
    x = rng.normal(1.0, 2.0, size=shape).astype(np.float32)
    channels = shape[axis]
    if not affine:
        return x, None, None
    return x, rng.normal(size=channels).astype(np.float32), rng.uniform(0.5, 1.5, channels).astype(np.float32)


@pytest.fixture(params=["native", "composite"])
def impl(request, backend):
    if request.param == "native":
        return backend.normalize_batch
    return build_composite(backend, "normalize_batch")


def as_numpy(backend, values):
    return [np.asarray(backend.convert_to_numpy(v)) for v in values]


@pytest.mark.parametrize("shape, axis, affine", CASES, ids=IDS)
def test_forward_matches_numpy(backend, impl, shape, axis, affine):
    x, offset, scale = make_args(shape, axis, affine, "forward")
    expected = np_normalize_batch(x.astype(np.float64), axis, offset, scale)
    result = impl(backend.convert_to_tensor(x), axis, offset=offset, scale=scale, epsilon=EPS)
    assert len(result) == 3
    for got, want, name in zip(as_numpy(backend, result), expected, ("outputs", "mean", "variance")):
        assert got.dtype == np.float32 and got.shape == want.shape, name
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=name)


def numeric_gradient(fn, args, index, eps=1e-6):
    args = [None if a is None else a.copy() for a in args]
    target = args[index]
    grad = np.zeros_like(target)
    for position in np.ndindex(target.shape):
        old = target[position]
        target[position] = old + eps
        plus = fn(*args)
        target[position] = old - eps
        minus = fn(*args)
        target[position] = old
        grad[position] = (plus - minus) / (2 * eps)
    return grad


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("shape, axis, affine", CASES, ids=IDS)
def test_gradients_match_finite_differences(backend, impl, shape, axis, affine, compiled):
    x, offset, scale = make_args(shape, axis, affine, "grad")
    rng = rng_for(f"normalize_batch-cotangents-{shape}")
    cot = rng.uniform(-1, 1, shape)
    stat_cots = [rng.uniform(-1, 1, shape[axis]) for _ in range(2)]
    args64 = [x.astype(np.float64), None if offset is None else offset.astype(np.float64),
              None if scale is None else scale.astype(np.float64)]

    def objective_np(x_, offset_, scale_):
        # Only the outputs: the statistics carry no gradient by contract.
        return float(np.sum(np_normalize_batch(x_, axis, offset_, scale_)[0] * cot))

    variables = [None if a is None else backend.Variable(a) for a in (x, offset, scale)]
    watched = [v for v in variables if v is not None]
    cots = [backend.convert_to_tensor(c.astype(np.float32)) for c in [cot] + stat_cots]

    def objective():
        outputs, mean, variance = impl(variables[0], axis, offset=variables[1], scale=variables[2], epsilon=EPS)
        total = backend.sum(backend.multiply(outputs, cots[0]))
        # The statistics enter the objective; their (zero) gradient must not change the result.
        total = backend.add(total, backend.sum(backend.multiply(mean, cots[1])))
        return backend.add(total, backend.sum(backend.multiply(variance, cots[2])))

    run = (lambda: backend.value_and_grad(objective, watched))
    value, grads = backend.compile_function(run)() if compiled else run()
    out, mean, var = np_normalize_batch(*args64[:1], axis, *args64[1:])
    want_value = float(np.sum(out * cot) + np.sum(mean * stat_cots[0]) + np.sum(var * stat_cots[1]))
    np.testing.assert_allclose(float(backend.convert_to_numpy(value)), want_value, rtol=1e-5, atol=1e-4)
    indices = [i for i, a in enumerate(args64) if a is not None]
    for g, index in zip(grads, indices):
        want = numeric_gradient(objective_np, args64, index)
        np.testing.assert_allclose(np.asarray(backend.convert_to_numpy(g)), want, rtol=1e-4, atol=1e-4,
                                   err_msg=f"gradient of argument {index}")


BAD = [
    ("scale_size", lambda x, o, s: (x, -1, o, s[:-1]), r"shape \(3,\)"),
    ("offset_size", lambda x, o, s: (x, -1, o[:-1], s), r"shape \(3,\)"),
    ("axis_range", lambda x, o, s: (x, 4, o, s), "axis 4"),
    ("scalar", lambda x, o, s: (x[0, 0, 0, 0], 0, None, None), "rank"),
]


@pytest.mark.parametrize("variant, change, shows", BAD, ids=[b[0] for b in BAD])
def test_bad_input_raises_invalid_argument(backend, impl, variant, change, shows):
    x, offset, scale = make_args((2, 3, 3, 4), -1, True, "bad")
    args = change(x, offset, scale)
    with pytest.raises(InvalidArgumentError, match=shows):
        impl(args[0], args[1], offset=args[2], scale=args[3])


# ------------------------------------------------------------------ layer_normalization


def np_layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=EPS):
    axes = sorted(a % x.ndim for a in ([axis] if isinstance(axis, int) else axis))
    shape = [x.shape[i] if i in axes else 1 for i in range(x.ndim)]
    mean = x.mean(axis=tuple(axes), keepdims=True)
    var = x.var(axis=tuple(axes), keepdims=True)
    out = (x - mean) / np.sqrt(var + epsilon)
    if gamma is not None:
        out = out * gamma.reshape(shape)
    if beta is not None:
        out = out + beta.reshape(shape)
    return out


LN_CASES = [((4, 6), -1, True), ((2, 3, 5), -1, False), ((2, 3, 4), [1, 2], True), ((2, 3, 4), [-1, -2], True),
            ((2, 3, 4), 1, True), ((2, 3, 4, 2), [1, 3], True)]
LN_IDS = [f"{'x'.join(map(str, s))}-axis{a}-{'affine' if p else 'plain'}".replace(" ", "")
          for s, a, p in LN_CASES]


def make_ln_args(shape, axis, affine, key):
    rng = rng_for(f"layer_normalization-{shape}-{axis}-{key}")
    x = rng.normal(1.0, 2.0, size=shape).astype(np.float32)
    if not affine:
        return x, None, None
    axes = sorted(a % len(shape) for a in ([axis] if isinstance(axis, int) else axis))
    normalized = tuple(shape[a] for a in axes)
    return x, rng.uniform(0.5, 1.5, normalized).astype(np.float32), rng.normal(size=normalized).astype(np.float32)


@pytest.fixture(params=["native", "composite"])
def ln_impl(request, backend):
    if request.param == "native":
        return backend.layer_normalization
    return build_composite(backend, "layer_normalization")


@pytest.mark.parametrize("shape, axis, affine", LN_CASES, ids=LN_IDS)
def test_layer_normalization_forward_matches_numpy(backend, ln_impl, shape, axis, affine):
    x, gamma, beta = make_ln_args(shape, axis, affine, "forward")
    got = np.asarray(backend.convert_to_numpy(ln_impl(backend.convert_to_tensor(x), gamma, beta, axis=axis,
                                                      epsilon=EPS)))
    assert got.dtype == np.float32 and got.shape == shape
    np.testing.assert_allclose(got, np_layer_normalization(x.astype(np.float64), gamma, beta, axis), rtol=1e-5,
                               atol=1e-5)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("shape, axis, affine", LN_CASES, ids=LN_IDS)
def test_layer_normalization_gradients_match_finite_differences(backend, ln_impl, shape, axis, affine, compiled):
    x, gamma, beta = make_ln_args(shape, axis, affine, "grad")
    cot = rng_for(f"layer_normalization-cotangent-{shape}").uniform(-1, 1, shape)
    args64 = [None if a is None else a.astype(np.float64) for a in (x, gamma, beta)]

    def objective_np(x_, gamma_, beta_):
        return float(np.sum(np_layer_normalization(x_, gamma_, beta_, axis) * cot))

    variables = [None if a is None else backend.Variable(a) for a in (x, gamma, beta)]
    watched = [v for v in variables if v is not None]
    cot_t = backend.convert_to_tensor(cot.astype(np.float32))

    def objective():
        return backend.sum(backend.multiply(ln_impl(*variables, axis=axis, epsilon=EPS), cot_t))

    run = (lambda: backend.value_and_grad(objective, watched))
    value, grads = backend.compile_function(run)() if compiled else run()
    np.testing.assert_allclose(float(backend.convert_to_numpy(value)), objective_np(*args64), rtol=1e-5, atol=1e-4)
    indices = [i for i, a in enumerate(args64) if a is not None]
    for g, index in zip(grads, indices):
        want = numeric_gradient(objective_np, args64, index)
        np.testing.assert_allclose(np.asarray(backend.convert_to_numpy(g)), want, rtol=1e-4, atol=1e-4,
                                   err_msg=f"gradient of argument {index}")


LN_BAD = [
    ("gamma_shape", lambda x, g, b: (x, g[:-1], b, -1), r"gamma of shape \(3,\)"),
    ("beta_shape", lambda x, g, b: (x, g, b.reshape(1, 4), -1), r"beta of shape \(1, 4\)"),
    ("axis_range", lambda x, g, b: (x, None, None, 3), "axis 3"),
    ("axis_twice", lambda x, g, b: (x, None, None, [2, -1]), "twice"),
]


@pytest.mark.parametrize("variant, change, shows", LN_BAD, ids=[b[0] for b in LN_BAD])
def test_layer_normalization_bad_input(backend, ln_impl, variant, change, shows):
    x, gamma, beta = make_ln_args((2, 3, 4), -1, True, "bad")
    args = change(x, gamma, beta)
    with pytest.raises(InvalidArgumentError, match=shows):
        ln_impl(args[0], args[1], args[2], axis=args[3])
