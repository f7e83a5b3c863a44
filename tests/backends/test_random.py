"""Random ops: seeding semantics, sample moments, ranges, permutations, dropout.

Bounds on moments are about 6 standard errors wide, and every draw uses a fixed
seed, so these tests are deterministic for a given backend.
"""

import math

import numpy as np
import pytest

from conformance_utils import assert_close, to_numpy

N = 20000
SEEDED = {
    "normal": lambda k, seed: k.normal((50, 4), seed=seed),
    "uniform": lambda k, seed: k.uniform((50, 4), seed=seed),
    "truncated_normal": lambda k, seed: k.truncated_normal((50, 4), seed=seed),
    "randint": lambda k, seed: k.randint((50, 4), 0, 1000, seed=seed),
    "shuffle": lambda k, seed: k.shuffle(k.arange(200), seed=seed),
    "dropout": lambda k, seed: k.dropout(k.ones((50, 4)), 0.5, seed=seed),
}


@pytest.mark.parametrize("op", list(SEEDED))
def test_int_seed_is_reproducible_and_stateless(backend, op):
    k = backend
    draw = SEEDED[op]
    k.set_random_seed(1)
    first = to_numpy(k, draw(k, 42))
    k.set_random_seed(2)  # the global generator does not affect seeded draws
    to_numpy(k, draw(k, None))
    again = to_numpy(k, draw(k, 42))
    np.testing.assert_array_equal(first, again)
    other = to_numpy(k, draw(k, 43))
    assert not np.array_equal(first, other), f"{op}: seeds 42 and 43 gave the same values"


@pytest.mark.parametrize("op", list(SEEDED))
def test_global_seed_repeats_unseeded_draws(backend, op):
    k = backend
    draw = SEEDED[op]
    k.set_random_seed(123)
    a, b = to_numpy(k, draw(k, None)), to_numpy(k, draw(k, None))
    assert not np.array_equal(a, b), f"{op}: two unseeded draws were equal (the generator did not advance)"
    k.set_random_seed(123)
    np.testing.assert_array_equal(to_numpy(k, draw(k, None)), a)
    np.testing.assert_array_equal(to_numpy(k, draw(k, None)), b)


def test_hl_utils_set_random_seed_seeds_backend(backend):
    import highlevel as hl

    hl.utils.set_random_seed(7)
    a = to_numpy(backend, backend.normal((5,)))
    hl.utils.set_random_seed(7)
    np.testing.assert_array_equal(to_numpy(backend, backend.normal((5,))), a)


def _moments(x):
    x = np.asarray(x, np.float64).ravel()
    return x.mean(), x.std()


@pytest.mark.parametrize("mean, stddev", [(0.0, 1.0), (2.0, 3.0), (-1.0, 0.1)])
def test_normal_moments(backend, mean, stddev):
    x = backend.normal((N,), mean=mean, stddev=stddev, seed=11)
    assert backend.dtype(x) == "float32" and backend.shape(x) == (N,)
    m, s = _moments(to_numpy(backend, x))
    assert abs(m - mean) < 6 * stddev / math.sqrt(N)
    assert abs(s - stddev) < 6 * stddev / math.sqrt(2 * N)
    # Gaussian tails: about 4.55% beyond two standard deviations.
    outside = np.mean(np.abs(to_numpy(backend, x) - mean) > 2 * stddev)
    assert abs(outside - 0.0455) < 0.01


@pytest.mark.parametrize("minval, maxval", [(0.0, 1.0), (2.0, 5.0), (-1.0, -0.5)])
def test_uniform_range_and_moments(backend, minval, maxval):
    x = to_numpy(backend, backend.uniform((N,), minval=minval, maxval=maxval, seed=12)).astype(np.float64)
    assert x.min() >= minval and x.max() < maxval
    width = maxval - minval
    m, s = _moments(x)
    assert abs(m - (minval + maxval) / 2) < 6 * width / math.sqrt(12 * N)
    assert abs(s - width / math.sqrt(12)) < 0.02 * width
    # Both ends are reached.
    assert x.min() < minval + 0.01 * width and x.max() > maxval - 0.01 * width


@pytest.mark.parametrize("mean, stddev", [(0.0, 1.0), (1.0, 0.5)])
def test_truncated_normal_bounds_and_moments(backend, mean, stddev):
    x = to_numpy(backend, backend.truncated_normal((N,), mean=mean, stddev=stddev, seed=13)).astype(np.float64)
    assert np.all(np.abs(x - mean) <= 2 * stddev * (1 + 1e-6))
    # Standard deviation of a normal truncated at +-2 sigma: sqrt(1 - 4 phi(2) / (Phi(2) - Phi(-2))).
    phi2 = math.exp(-2.0) / math.sqrt(2 * math.pi)
    mass = math.erf(2 / math.sqrt(2))
    expected_std = stddev * math.sqrt(1 - 4 * phi2 / mass)
    m, s = _moments(x)
    assert abs(m - mean) < 6 * expected_std / math.sqrt(N)
    assert abs(s - expected_std) < 0.02 * stddev
    # Samples go near the bounds (not, e.g., clipped at 1 sigma).
    assert np.max(np.abs(x - mean)) > 1.9 * stddev


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_random_dtypes(backend, dtype):
    k = backend
    for x in (k.normal((8,), dtype=dtype, seed=1), k.uniform((8,), dtype=dtype, seed=1),
              k.truncated_normal((8,), dtype=dtype, seed=1)):
        assert k.dtype(x) == dtype and k.shape(x) == (8,)


def test_random_default_dtypes_and_shapes(backend):
    k = backend
    assert k.dtype(k.normal((2, 3))) == "float32" and k.shape(k.normal((2, 3))) == (2, 3)
    assert k.dtype(k.uniform([4])) == "float32" and k.shape(k.uniform([4])) == (4,)
    assert k.dtype(k.randint((3,), 0, 5)) == "int32"
    assert k.dtype(k.randint((3,), 0, 5, dtype="int64")) == "int64"


def test_randint_range_and_frequencies(backend):
    x = to_numpy(backend, backend.randint((N,), 0, 5, seed=14))
    assert x.min() == 0 and x.max() == 4
    freq = np.bincount(x.astype(np.int64), minlength=5) / N
    assert np.all(np.abs(freq - 0.2) < 0.02)
    y = to_numpy(backend, backend.randint((1000,), -3, 2, seed=15))
    assert set(np.unique(y).tolist()) == {-3, -2, -1, 0, 1}


def test_shuffle_is_a_permutation(backend):
    k = backend
    x = to_numpy(k, k.shuffle(k.arange(100), seed=16))
    np.testing.assert_array_equal(np.sort(x), np.arange(100))
    assert not np.array_equal(x, np.arange(100))


@pytest.mark.parametrize("axis", [0, 1])
def test_shuffle_moves_whole_slices(backend, axis):
    k = backend
    m = np.arange(60, dtype=np.float32).reshape(6, 10)
    out = to_numpy(k, k.shuffle(k.convert_to_tensor(m), axis=axis, seed=17))
    assert out.shape == m.shape and k.dtype(k.shuffle(k.convert_to_tensor(m), axis=axis)) == "float32"
    slices = lambda a: sorted(map(tuple, np.moveaxis(a, axis, 0)))  # noqa: E731
    assert slices(out) == slices(m)
    assert not np.array_equal(out, m)


def test_dropout_statistics(backend):
    k = backend
    rate = 0.3
    x = np.full((200, 100), 2.0, np.float32)
    out = to_numpy(k, k.dropout(k.convert_to_tensor(x), rate, seed=18)).astype(np.float64)
    kept = out != 0
    assert_close(out[kept], np.full(kept.sum(), 2.0 / (1 - rate)), rtol=1e-6, atol=0)
    assert abs((~kept).mean() - rate) < 0.02
    assert abs(out.mean() - 2.0) < 0.05  # inverted dropout keeps the expectation


def test_dropout_noise_shape_broadcasts(backend):
    k = backend
    out = to_numpy(k, k.dropout(k.ones((300, 5)), 0.5, noise_shape=(300, 1), seed=19))
    rows_zero = np.all(out == 0, axis=1)
    rows_kept = np.all(out == 2.0, axis=1)
    assert np.all(rows_zero | rows_kept)
    assert 0.35 < rows_zero.mean() < 0.65


def test_dropout_rate_zero_is_identity(backend):
    k = backend
    x = np.arange(6, dtype=np.float32)
    assert_close(to_numpy(k, k.dropout(k.convert_to_tensor(x), 0.0)), x, rtol=0, atol=0)


def test_dropout_inside_value_and_grad(backend):
    k = backend
    x = np.linspace(1.0, 2.0, 2000).astype(np.float32)
    v = k.Variable(x)

    def fn():
        out = k.dropout(v, 0.5)
        return k.sum(k.multiply(out, 3.0)), out

    (value, out), (g,) = k.value_and_grad(fn, [v], has_aux=True)
    out = to_numpy(k, out)
    mask = (out != 0).astype(np.float64)
    assert 0.4 < mask.mean() < 0.6
    assert_close(to_numpy(k, g), mask * 3.0 / 0.5, rtol=1e-6, atol=1e-6)
    assert_close(to_numpy(k, value), 3.0 * out.astype(np.float64).sum(), rtol=1e-5, atol=1e-3)


def test_dropout_inside_compiled_function(backend):
    k = backend
    compiled = k.compile_function(lambda x: k.dropout(x, 0.5))
    x = k.ones((100, 20))
    first, second = to_numpy(k, compiled(x)), to_numpy(k, compiled(x))
    for out in (first, second):
        assert set(np.unique(out).tolist()) <= {0.0, 2.0}
        assert 0.4 < np.mean(out == 0) < 0.6
    assert not np.array_equal(first, second), "a compiled dropout reused the same mask on every call"
