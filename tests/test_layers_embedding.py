"""Embedding and Masking against NumPy (lookups, masks, gradients) and Keras 3 with copied weights.

Embedding: ``E[ids]`` forward, the scatter-added gradient (repeated ids accumulate),
``mask_zero`` masks, out-of-range ids, configs, shape inference, training with fit.
Masking: masked steps zeroed, ``any(x != mask_value)`` masks, gradients through ``where``.
"""

import json

import numpy as np
import pytest

import highlevel as hl
from highlevel import ops
from highlevel.layers import Dense, Embedding, GlobalAveragePooling1D, Masking


@pytest.fixture(autouse=True)
def seeded():
    hl.utils.set_random_seed(0)


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


# ------------------------------------------------------------------- Embedding


def test_embedding_forward_is_a_row_lookup():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 7, size=(3, 5))
    layer = Embedding(7, 4)
    y = to_numpy(layer(ids))
    (table,) = layer.get_weights()
    assert table.shape == (7, 4) and y.shape == (3, 5, 4) and y.dtype == np.float32
    np.testing.assert_array_equal(y, table[ids])
    # Default initializer: Keras's "uniform" in [-0.05, 0.05).
    assert np.all(np.abs(table) <= 0.05) and table.std() > 0.01
    # Any rank of ids; float ids are cast to int32 (as Keras); int64 stays.
    ids3 = rng.integers(0, 7, size=(2, 3, 2))
    np.testing.assert_array_equal(to_numpy(layer(ids3)), table[ids3])
    np.testing.assert_array_equal(to_numpy(layer(ids.astype(np.float32))), table[ids])
    np.testing.assert_array_equal(to_numpy(layer(ids.astype(np.int64))), table[ids])
    assert [w.path for w in layer.weights] == [f"{layer.name}/embeddings"]
    assert layer.count_params() == 28


def test_embedding_gradient_accumulates_repeated_ids():
    ids = np.array([[1, 3, 1], [0, 1, 6]])
    cotangent = np.random.default_rng(1).normal(size=(2, 3, 4)).astype(np.float32)
    layer = Embedding(7, 4)
    layer.build()
    loss = lambda: ops.sum(ops.multiply(layer(ids), cotangent))  # noqa: E731
    value, (grad,) = ops.value_and_grad(loss, [layer.embeddings])
    expected = np.zeros((7, 4), np.float32)
    np.add.at(expected, ids, cotangent)   # d/dE of sum(E[ids] * c): c scattered into the used rows
    np.testing.assert_allclose(to_numpy(grad), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(float(to_numpy(value)), np.sum(layer.get_weights()[0][ids] * cotangent), rtol=1e-5)


def test_embedding_mask_zero_and_initial_weights():
    table = np.arange(12, dtype=np.float32).reshape(6, 2)
    layer = Embedding(6, 2, mask_zero=True, weights=table)
    assert layer.built and layer.supports_masking
    ids = np.array([[4, 2, 0, 0], [1, 0, 3, 0]])
    np.testing.assert_array_equal(to_numpy(layer(ids)), table[ids])
    mask = to_numpy(layer.compute_mask(ops.convert_to_tensor(ids)))
    assert mask.dtype == np.bool_
    np.testing.assert_array_equal(mask, ids != 0)
    plain = Embedding(6, 2)
    assert not plain.supports_masking and plain.compute_mask(ops.convert_to_tensor(ids)) is None
    with pytest.warns(UserWarning, match="input_length"):
        Embedding(6, 2, input_length=4)


def test_embedding_out_of_range_ids_raise_a_clear_error():
    layer = Embedding(5, 3, name="words")
    with pytest.raises(ValueError, match=r"words.*input_dim=5"):
        layer(np.array([[1, 5]]))
    for bad in ({"input_dim": 0, "output_dim": 2}, {"input_dim": 3, "output_dim": 2.5},
                {"input_dim": True, "output_dim": 2}):
        with pytest.raises(ValueError, match="Embedding.*(input_dim|output_dim) must be a positive integer"):
            Embedding(**bad)


def test_embedding_regularizer_constraint_and_config_round_trip():
    layer = Embedding(5, 3, embeddings_regularizer=hl.regularizers.L2(0.1), embeddings_constraint="non_neg",
                      mask_zero=True, embeddings_initializer="ones", name="emb")
    layer.build()
    (penalty,) = layer.losses
    np.testing.assert_allclose(float(to_numpy(penalty)), 0.1 * 15, rtol=1e-6)
    config = layer.get_config()
    assert json.loads(json.dumps(config)) == config
    assert config["input_dim"] == 5 and config["output_dim"] == 3 and config["mask_zero"] is True
    clone = Embedding.from_config(config)
    assert clone.get_config() == config
    again = hl.layers.deserialize(json.loads(json.dumps(hl.layers.serialize(layer))))
    assert isinstance(again, Embedding) and again.mask_zero and again.embeddings_constraint is not None


def test_embedding_functional_shape_inference():
    ids = hl.Input((6,), dtype="int32")
    out = Embedding(10, 4)(ids)
    assert out.shape == (None, 6, 4) and out.dtype == "float32"
    assert Embedding(10, 4).compute_output_shape((None, 2, 3)) == (None, 2, 3, 4)


def test_embedding_matches_keras_with_copied_weights():
    keras = pytest.importorskip("keras")
    ids = np.random.default_rng(2).integers(0, 9, size=(4, 7))
    theirs = keras.layers.Embedding(9, 5, mask_zero=True)
    expected = np.asarray(theirs(ids))
    ours = Embedding(9, 5, mask_zero=True)
    ours.build()
    ours.set_weights(theirs.get_weights())
    np.testing.assert_array_equal(to_numpy(ours(ids)), expected)
    np.testing.assert_array_equal(to_numpy(ours.compute_mask(ops.convert_to_tensor(ids))),
                                  np.asarray(theirs.compute_mask(ids)))
    ours_config = {k: v for k, v in ours.get_config().items() if k not in ("name", "dtype", "trainable")}
    keras_config = theirs.get_config()
    assert all(keras_config[k] == v for k, v in ours_config.items() if not isinstance(v, dict)), ours_config


# --------------------------------------------------------------------- Masking


def masking_reference(x, value):
    keep = np.any(x != value, axis=-1)
    return np.where(keep[..., None], x, 0.0), keep


@pytest.mark.parametrize("value", [0.0, -1.0])
def test_masking_zeroes_masked_steps_and_computes_the_mask(value):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 5, 2)).astype(np.float32)
    x[0, 2] = value
    x[1, 3:] = value
    x[2, 0, 0] = value                 # only one feature equal: not masked
    layer = Masking(mask_value=value)
    want, keep = masking_reference(x, value)
    np.testing.assert_array_equal(to_numpy(layer(x)), want)
    np.testing.assert_array_equal(to_numpy(layer.compute_mask(ops.convert_to_tensor(x))), keep)
    # Gradient: through where, zero on masked steps.
    x_var = ops.Variable(x)
    _, (grad,) = ops.value_and_grad(lambda: ops.sum(ops.multiply(layer(x_var), 3.0)), [x_var])
    np.testing.assert_array_equal(to_numpy(grad), np.where(keep[..., None], 3.0, 0.0) * np.ones_like(x))


def test_masking_config_shape_inference_and_errors():
    layer = Masking(mask_value=2.5, name="pad")
    config = layer.get_config()
    assert config["mask_value"] == 2.5 and Masking.from_config(config).get_config() == config
    inp = hl.Input((4, 3))
    assert layer(inp).shape == (None, 4, 3)
    with pytest.raises(ValueError, match="pad"):
        Masking(name="pad")(np.zeros((3,), np.float32))
    with pytest.raises(ValueError, match="mask_value must be a number"):
        Masking(mask_value="zero")


def test_masking_matches_keras():
    keras = pytest.importorskip("keras")
    x = np.random.default_rng(4).normal(size=(2, 4, 3)).astype(np.float32)
    x[0, 1] = 0.0
    theirs = keras.layers.Masking()
    np.testing.assert_array_equal(to_numpy(Masking()(x)), np.asarray(theirs(x)))
    np.testing.assert_array_equal(to_numpy(Masking().compute_mask(ops.convert_to_tensor(x))),
                                  np.asarray(theirs.compute_mask(x)))


def test_embedding_model_trains_with_fit():
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 20, size=(128, 8))
    ids[:, 5:] *= rng.integers(0, 2, size=(128, 3))           # some trailing padding
    y = (np.sum(ids >= 10, axis=1) > np.sum((ids > 0) & (ids < 10), axis=1)).astype(np.float32)[:, None]
    model = hl.Sequential([hl.Input((8,), dtype="int32"), Embedding(20, 8, mask_zero=True),
                           GlobalAveragePooling1D(), Dense(1, activation="sigmoid")])
    model.compile(optimizer=hl.optimizers.Adam(0.05), loss="binary_crossentropy")
    losses = model.fit(ids, y, epochs=8, batch_size=32, verbose=0).history["loss"]
    assert losses[-1] < 0.7 * losses[0], losses
