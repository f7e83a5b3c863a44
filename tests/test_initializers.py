"""Initializers: Keras's formulas (fans, variances, bounds), seeding, names and configs.

Statistics are checked against the closed-form variance of each scheme on large
samples; "the same seed gives the same weights on every backend" is checked by
comparing with values drawn by NumPy directly in the test (the host generator is
the contract, see highlevel/initializers.py).
"""

import json
import math

import numpy as np
import pytest

import highlevel as hl
from highlevel import initializers

TRUNCATED_STD = 0.87962566103423978  # std of N(0, 1) truncated to [-2, 2]


@pytest.fixture(autouse=True)
def seeded():
    # Statistical checks must not depend on which tests ran before.
    hl.utils.set_random_seed(0)


def to_numpy(x):
    return np.asarray(hl.ops.convert_to_numpy(x))


@pytest.mark.parametrize("shape, fans", [
    ((), (1, 1)),
    ((7,), (7, 7)),
    ((20, 30), (20, 30)),
    ((3, 3, 16, 32), (3 * 3 * 16, 3 * 3 * 32)),
    ((5, 4, 8), (5 * 4, 5 * 8)),
])
def test_compute_fans(shape, fans):
    assert initializers.compute_fans(shape) == fans


# (name, variance(fan_in, fan_out), distribution)
SCHEMES = [
    ("glorot_uniform", lambda i, o: 2.0 / (i + o), "uniform"),
    ("glorot_normal", lambda i, o: 2.0 / (i + o), "truncated"),
    ("he_uniform", lambda i, o: 2.0 / i, "uniform"),
    ("he_normal", lambda i, o: 2.0 / i, "truncated"),
    ("lecun_uniform", lambda i, o: 1.0 / i, "uniform"),
    ("lecun_normal", lambda i, o: 1.0 / i, "truncated"),
]


@pytest.mark.parametrize("name, variance, distribution", SCHEMES)
@pytest.mark.parametrize("shape", [(300, 200), (3, 3, 20, 40)])
def test_variance_scaling_statistics(name, variance, distribution, shape):
    init = initializers.get(name)
    values = to_numpy(init(shape))
    assert values.shape == shape and values.dtype == np.float32
    fan_in, fan_out = initializers.compute_fans(shape)
    expected_var = variance(fan_in, fan_out)
    assert abs(values.mean()) < 0.05 * math.sqrt(expected_var)
    assert values.var() == pytest.approx(expected_var, rel=0.05)  # ~4 standard errors
    if distribution == "uniform":
        limit = math.sqrt(3.0 * expected_var)
        assert np.abs(values).max() <= limit
        assert np.abs(values).max() > 0.99 * limit
    else:
        # Truncated at two standard deviations of the underlying normal.
        bound = 2.0 * math.sqrt(expected_var) / TRUNCATED_STD
        assert np.abs(values).max() <= bound * (1 + 1e-6)
        assert np.abs(values).max() > 0.95 * bound


def test_variance_scaling_modes_and_untruncated_normal():
    shape = (400, 100)
    for mode, n in (("fan_in", 400), ("fan_out", 100), ("fan_avg", 250)):
        values = to_numpy(initializers.VarianceScaling(scale=3.0, mode=mode, distribution="untruncated_normal")(shape))
        assert values.var() == pytest.approx(3.0 / n, rel=0.03)
        assert np.abs(values).max() > 3.0 * math.sqrt(3.0 / n)  # not truncated
    with pytest.raises(ValueError, match="mode"):
        initializers.VarianceScaling(mode="fan_sideways")
    with pytest.raises(ValueError, match="scale"):
        initializers.VarianceScaling(scale=0.0)
    with pytest.raises(ValueError, match="distribution"):
        initializers.VarianceScaling(distribution="cauchy")


def test_random_normal_uniform_truncated():
    shape = (500, 400)
    normal = to_numpy(initializers.RandomNormal(mean=1.0, stddev=2.0)(shape))
    assert normal.mean() == pytest.approx(1.0, abs=0.02) and normal.std() == pytest.approx(2.0, rel=0.01)
    uniform = to_numpy(initializers.RandomUniform(minval=-1.0, maxval=3.0)(shape))
    assert uniform.min() >= -1.0 and uniform.max() < 3.0
    assert uniform.mean() == pytest.approx(1.0, abs=0.02) and uniform.var() == pytest.approx(16 / 12, rel=0.02)
    truncated = to_numpy(initializers.TruncatedNormal(mean=0.5, stddev=0.1)(shape))
    assert np.abs(truncated - 0.5).max() <= 0.2 + 1e-6
    assert truncated.std() == pytest.approx(0.1 * TRUNCATED_STD, rel=0.01)
    # Keras defaults: stddev 0.05, [-0.05, 0.05).
    assert to_numpy(initializers.get("random_uniform")((1000,))).max() < 0.05
    assert to_numpy(initializers.get("random_normal")((100_000,))).std() == pytest.approx(0.05, rel=0.02)


def test_constant_initializers():
    np.testing.assert_array_equal(to_numpy(initializers.Zeros()((2, 3))), np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(to_numpy(initializers.Ones()((4,))), np.ones(4, np.float32))
    np.testing.assert_array_equal(to_numpy(initializers.Constant(2.5)((2, 2))), np.full((2, 2), 2.5, np.float32))
    np.testing.assert_array_equal(to_numpy(initializers.Identity(gain=3.0)((2, 3))), 3.0 * np.eye(2, 3))
    with pytest.raises(ValueError, match="2-D"):
        initializers.Identity()((2, 2, 2))
    assert to_numpy(initializers.Zeros()((3,), dtype="int32")).dtype == np.int32


@pytest.mark.parametrize("shape", [(20, 8), (8, 20), (3, 4, 6)])
def test_orthogonal(shape):
    q = to_numpy(initializers.Orthogonal(gain=2.0, seed=3)(shape)).reshape(-1, shape[-1])
    rows, cols = q.shape
    if rows >= cols:
        np.testing.assert_allclose(q.T @ q, 4.0 * np.eye(cols), atol=1e-5)
    else:
        np.testing.assert_allclose(q @ q.T, 4.0 * np.eye(rows), atol=1e-5)
    with pytest.raises(ValueError, match="2-D"):
        initializers.Orthogonal()((5,))


def test_explicit_seed_repeats_and_matches_numpy():
    init = initializers.GlorotUniform(seed=42)
    first, second = to_numpy(init((6, 4))), to_numpy(init((6, 4)))
    np.testing.assert_array_equal(first, second)
    # The contract: values come from NumPy's generator on the host, so they are the same on every backend.
    limit = math.sqrt(6.0 / (6 + 4))
    expected = np.random.default_rng(42).uniform(-limit, limit, (6, 4)).astype(np.float32)
    np.testing.assert_array_equal(first, expected)
    other = to_numpy(initializers.GlorotUniform(seed=43)((6, 4)))
    assert not np.array_equal(first, other)
    normal = to_numpy(initializers.RandomNormal(stddev=0.5, seed=7)((3, 5)))
    np.testing.assert_array_equal(normal, np.random.default_rng(7).normal(0.0, 0.5, (3, 5)).astype(np.float32))


def test_set_random_seed_gives_identical_layer_weights():
    def fresh_weights():
        hl.utils.set_random_seed(1234)
        layer = hl.layers.Dense(5, kernel_initializer="he_normal")
        layer.build((None, 7))
        other = hl.layers.Dense(3)
        other.build((None, 5))
        return [to_numpy(w) for w in layer.weights + other.weights]

    first, second = fresh_weights(), fresh_weights()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    # Unseeded calls draw one child seed from NumPy's global generator (what set_random_seed seeds).
    np.random.seed(1234)
    child = np.random.randint(0, 2**31 - 1)
    expected = initializers._truncated_normal(np.random.default_rng(child), (7, 5), 0.0,
                                              math.sqrt(2.0 / 7) / TRUNCATED_STD).astype(np.float32)
    np.testing.assert_array_equal(first[0], expected)
    # Two layers built in a row get different weights.
    assert not np.array_equal(first[0][:3, :3], first[2][:3, :3])


def test_get_names_and_errors():
    assert isinstance(initializers.get("glorot_uniform"), initializers.GlorotUniform)
    assert isinstance(initializers.get("GlorotUniform"), initializers.GlorotUniform)
    assert isinstance(initializers.get("he_normal"), initializers.HeNormal)
    assert isinstance(initializers.get("normal"), initializers.RandomNormal)
    assert isinstance(initializers.get(initializers.Ones), initializers.Ones)
    assert initializers.get(None) is None
    fn = lambda shape, dtype=None: np.full(shape, 7.0)  # noqa: E731
    assert initializers.get(fn) is fn
    with pytest.raises(ValueError) as info:
        initializers.get("glorot_uniformm")
    assert "glorot_uniformm" in str(info.value) and "he_normal" in str(info.value)


def test_serialize_round_trip():
    for init in (initializers.VarianceScaling(2.0, "fan_out", "uniform", seed=3), initializers.GlorotNormal(seed=1),
                 initializers.Constant(0.3), initializers.RandomUniform(-1.0, 1.0, seed=9),
                 initializers.Orthogonal(gain=0.5, seed=2)):
        config = json.loads(json.dumps(initializers.serialize(init)))
        clone = initializers.deserialize(config)
        assert type(clone) is type(init) and clone.get_config() == init.get_config()
        np.testing.assert_array_equal(to_numpy(clone((4, 3))), to_numpy(init((4, 3))))
    # Keras-style dicts (no registered_name) work too.
    clone = initializers.get({"class_name": "HeUniform", "config": {"seed": 5}})
    assert isinstance(clone, initializers.HeUniform) and clone.seed == 5


def test_callable_initializer_in_a_layer():
    layer = hl.layers.Dense(2, kernel_initializer=lambda shape, dtype=None: np.arange(6.0).reshape(shape),
                            bias_initializer=initializers.Constant(0.5))
    layer.build((None, 3))
    np.testing.assert_array_equal(layer.kernel.numpy(), np.arange(6.0).reshape(3, 2))
    np.testing.assert_array_equal(layer.bias.numpy(), [0.5, 0.5])


def test_statistics_match_keras():
    keras = pytest.importorskip("keras")
    shape = (256, 128)
    for name in ("glorot_uniform", "he_normal", "lecun_normal", "glorot_normal"):
        ours = to_numpy(initializers.get(name)(shape))
        theirs = np.asarray(keras.initializers.get(name)(shape))
        assert ours.std() == pytest.approx(theirs.std(), rel=0.03), name
        assert np.abs(ours).max() == pytest.approx(np.abs(theirs).max(), rel=0.05), name
