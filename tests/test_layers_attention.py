"""Attention and MultiHeadAttention against NumPy (the textbook equations), finite differences
and Keras 3 with copied weights: scores, masks, causal masks, dropout, shapes, configs, errors.
"""

import json
import math

import numpy as np
import pytest

import highlevel as hl
from highlevel import ops
from highlevel.layers import Attention, Dense, GlobalAveragePooling1D, MultiHeadAttention


@pytest.fixture(autouse=True)
def seeded():
    hl.utils.set_random_seed(0)


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def data(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# ---------------------------------------------------------------- references


def attention_reference(q, v, k=None, q_mask=None, v_mask=None, causal=False, scale=None, concat_weight=None):
    """Luong attention: scores, masked softmax over the value steps, weighted sum of values."""
    k = v if k is None else k
    if concat_weight is None:
        scores = q @ np.swapaxes(k, -1, -2)
        if scale is not None:
            scores = scores * scale
    else:
        total = q[:, :, None, :] + k[:, None, :, :]
        if scale is not None:
            total = total * scale
        scores = concat_weight * np.tanh(total).sum(-1)
    keep = np.ones(scores.shape, bool)
    if v_mask is not None:
        keep &= v_mask[:, None, :]
    if causal:
        keep &= np.tril(np.ones(scores.shape[-2:], bool))
    weights = softmax(np.where(keep, scores, scores - 1e9))
    out = weights @ v
    if q_mask is not None:
        out = np.where(q_mask[..., None], out, 0.0)
    return out, weights


def mha_reference(q, v, k, weights, key_dim, mask=None, use_bias=True):
    """Multi-head attention on (batch, steps, features): per-head projections, scaled dot
    products, softmax over the key steps (masked entries excluded; a fully masked row gives
    zeros), per-head weighted values, output projection."""
    if use_bias:
        wq, bq, wk, bk, wv, bv, wo, bo = weights
    else:
        (wq, wk, wv, wo), bq = weights, None
        bk = bv = bo = 0.0
        bq = 0.0
    Q = np.einsum("btd,dnh->btnh", q, wq) + bq
    K = np.einsum("bsd,dnh->bsnh", k, wk) + bk
    V = np.einsum("bsd,dnh->bsnh", v, wv) + bv
    scores = np.einsum("btnh,bsnh->bnts", Q, K) / math.sqrt(key_dim)
    if mask is not None:
        scores = np.where(mask[:, None], scores, -1e9)
    attn = softmax(scores)
    if mask is not None:
        attn = np.where(mask[:, None], attn, 0.0)
    heads = np.einsum("bnts,bsnh->btnh", attn, V)
    return np.einsum("btnh,nho->bto", heads, wo) + bo, attn


def randomize(layer, seed=7):
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.uniform(-0.6, 0.6, size=w.shape).astype(np.float32) for w in layer.get_weights()])


# ------------------------------------------------------------------- Attention


@pytest.mark.parametrize("score_mode,use_scale", [("dot", False), ("dot", True), ("concat", False),
                                                  ("concat", True)])
def test_attention_matches_numpy_with_masks_and_causal(score_mode, use_scale):
    q, v, k = data((2, 4, 3), 1), data((2, 5, 3), 2), data((2, 5, 3), 3)
    q_mask = np.array([[1, 1, 0, 1], [1, 1, 1, 1]], bool)
    v_mask = np.array([[1, 0, 1, 1, 0], [1, 1, 1, 0, 0]], bool)
    layer = Attention(use_scale=use_scale, score_mode=score_mode)
    layer([q, v, k])
    weights = [np.float32(1.3), np.float32(0.8)][:len(layer.weights)]
    if weights:
        layer.set_weights(weights)
    names = [w.name for w in layer.weights]
    assert names == (["scale"] if use_scale else []) + (["concat_score_weight"] if score_mode == "concat" else [])
    scale = 1.3 if use_scale else None
    concat_weight = (weights[-1] if score_mode == "concat" else None)
    for causal in (False, True):
        out, scores = layer([q, v, k], mask=[q_mask, v_mask], return_attention_scores=True, use_causal_mask=causal)
        want, want_scores = attention_reference(q, v, k, q_mask, v_mask, causal, scale, concat_weight)
        np.testing.assert_allclose(to_numpy(out), want, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(to_numpy(scores), want_scores, rtol=1e-5, atol=1e-6)
    # Without key: value is the key; without masks: plain softmax.
    np.testing.assert_allclose(to_numpy(layer([q, v])), attention_reference(q, v, scale=scale,
                                                                               concat_weight=concat_weight)[0],
                               rtol=1e-5, atol=1e-5)


def test_attention_gradients_match_finite_differences():
    q, v = data((2, 3, 2), 4).astype(np.float64), data((2, 4, 2), 5).astype(np.float64)
    v_mask = np.array([[1, 1, 0, 1], [1, 1, 1, 1]], bool)
    cot = np.random.default_rng(6).normal(size=(2, 3, 2))
    layer = Attention(use_scale=True)
    layer([q.astype(np.float32), v.astype(np.float32)])
    layer.set_weights([np.float32(0.7)])
    q_var, v_var = ops.Variable(q.astype(np.float32)), ops.Variable(v.astype(np.float32))

    def loss():
        return ops.sum(ops.multiply(layer([q_var, v_var], mask=[None, v_mask], use_causal_mask=True), cot))
    _, grads = ops.value_and_grad(loss, [q_var, v_var, layer.scale])

    def objective(qq, vv, s):
        return np.sum(attention_reference(qq, vv, v_mask=v_mask, causal=True, scale=s)[0] * cot)
    values, eps = [q, v, np.array(0.7)], 1e-6
    for index, grad in enumerate(grads):
        numeric = np.zeros_like(values[index])
        for pos in np.ndindex(values[index].shape):
            plus, minus = [x.copy() for x in values], [x.copy() for x in values]
            plus[index][pos] += eps
            minus[index][pos] -= eps
            numeric[pos] = (objective(*plus) - objective(*minus)) / (2 * eps)
        np.testing.assert_allclose(to_numpy(grad), numeric, rtol=1e-3, atol=1e-4, err_msg=f"gradient {index}")


def test_attention_dropout_only_in_training():
    q, v = data((3, 4, 2), 7), data((3, 6, 2), 8)
    layer = Attention(dropout=0.5, seed=3)
    want, want_scores = attention_reference(q, v)
    out, scores = layer([q, v], return_attention_scores=True)               # inference by default
    np.testing.assert_allclose(to_numpy(out), want, rtol=1e-5, atol=1e-6)
    out, dropped = layer([q, v], return_attention_scores=True, training=True)
    out, dropped = to_numpy(out), to_numpy(dropped)
    kept = dropped != 0
    assert 0.2 < kept.mean() < 0.8
    np.testing.assert_allclose(dropped[kept], (want_scores * 2.0)[kept], rtol=1e-5)
    np.testing.assert_allclose(out, dropped @ v, rtol=1e-5, atol=1e-6)
    # Seeded: a fresh layer with the same seed drops the same entries.
    again = Attention(dropout=0.5, seed=3)
    np.testing.assert_array_equal(to_numpy(again([q, v], return_attention_scores=True, training=True)[1]) != 0,
                                  kept)


def test_attention_shapes_config_and_errors():
    q, v = hl.Input((4, 3)), hl.Input((6, 3))
    layer = Attention(use_scale=True, score_mode="concat", dropout=0.1, name="att")
    out = layer([q, v])
    assert out.shape == (None, 4, 3)
    out2, scores = Attention()([q, v], return_attention_scores=True)
    assert out2.shape == (None, 4, 3) and scores.shape == (None, 4, 6)
    config = layer.get_config()
    assert json.loads(json.dumps(config)) == config
    assert Attention.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="att.*list of inputs"):
        Attention(name="att")(data((2, 3, 2)))
    with pytest.raises(ValueError, match="2 or 3 inputs"):
        Attention()([data((2, 3, 2))])
    with pytest.raises(ValueError, match="score_mode"):
        Attention(score_mode="additive")
    with pytest.raises(ValueError, match="same last dimension"):
        Attention()([data((2, 3, 2)), data((2, 4, 5))])
    with pytest.raises(ValueError, match="mask must be a list"):
        Attention()([data((2, 3, 2)), data((2, 4, 2))], mask=np.ones((2, 3), bool))


@pytest.mark.parametrize("score_mode", ["dot", "concat"])
def test_attention_matches_keras(score_mode):
    keras = pytest.importorskip("keras")
    q, v = data((2, 4, 3), 9), data((2, 5, 3), 10)
    q_mask = np.array([[1, 1, 1, 0], [1, 0, 1, 1]], bool)
    v_mask = np.array([[1, 1, 1, 0, 0], [1, 1, 0, 1, 1]], bool)
    theirs = keras.layers.Attention(use_scale=True, score_mode=score_mode)
    theirs([q, v])
    theirs.set_weights([np.float32(1.2 + 0.1 * i) for i in range(len(theirs.get_weights()))])
    ours = Attention(use_scale=True, score_mode=score_mode)
    ours([q, v])
    ours.set_weights(theirs.get_weights())
    for causal in (False, True):
        want, want_scores = theirs([q, v], mask=[q_mask, v_mask], use_causal_mask=causal,
                                   return_attention_scores=True)
        got, got_scores = ours([q, v], mask=[q_mask, v_mask], use_causal_mask=causal, return_attention_scores=True)
        np.testing.assert_allclose(to_numpy(got), np.asarray(want), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(to_numpy(got_scores), np.asarray(want_scores), rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------- MultiHeadAttention


def test_mha_weights_have_keras_names_shapes_and_order():
    layer = MultiHeadAttention(num_heads=3, key_dim=4, value_dim=5, name="mha")
    layer(data((2, 6, 7)), data((2, 8, 9)))
    assert [(w.path, tuple(w.shape)) for w in layer.weights] == [
        ("query/kernel", (7, 3, 4)), ("query/bias", (3, 4)), ("key/kernel", (9, 3, 4)), ("key/bias", (3, 4)),
        ("value/kernel", (9, 3, 5)), ("value/bias", (3, 5)), ("attention_output/kernel", (3, 5, 7)),
        ("attention_output/bias", (7,))]
    gated = MultiHeadAttention(num_heads=2, key_dim=3, use_gate=True, use_bias=False, output_shape=(4, 2))
    gated(data((2, 6, 7)), data((2, 8, 9)))
    assert [(w.path.split("/")[0], tuple(w.shape)) for w in gated.weights] == [
        ("query", (7, 2, 3)), ("key", (9, 2, 3)), ("gate", (7, 2, 3)), ("value", (9, 2, 3)),
        ("attention_output", (2, 3, 4, 2))]


def test_mha_matches_numpy_with_every_kind_of_mask():
    q, v, k = data((2, 4, 5), 1), data((2, 6, 3), 2), data((2, 6, 4), 3)
    layer = MultiHeadAttention(num_heads=2, key_dim=3)
    layer(q, v, key=k)
    randomize(layer)
    weights = layer.get_weights()
    rng = np.random.default_rng(4)
    q_mask = np.array([[1, 1, 0, 1], [1, 1, 1, 1]], bool)
    v_mask = np.array([[1, 1, 1, 0, 1, 1], [1, 0, 1, 1, 1, 0]], bool)
    k_mask = np.array([[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]], bool)
    attention_mask = rng.uniform(size=(2, 4, 6)) > 0.3
    causal = np.tril(np.ones((4, 6), bool))[None]
    cases = [
        ({}, None),
        ({"value_mask": v_mask}, v_mask[:, None, :] & np.ones((2, 4, 1), bool)),
        ({"query_mask": q_mask, "value_mask": v_mask, "key_mask": k_mask},
         q_mask[:, :, None] & v_mask[:, None, :] & k_mask[:, None, :]),
        ({"attention_mask": attention_mask, "use_causal_mask": True}, attention_mask & causal),
        ({"use_causal_mask": True}, np.broadcast_to(causal, (2, 4, 6))),
    ]
    for kwargs, mask in cases:
        out, scores = layer(q, v, key=k, return_attention_scores=True, **kwargs)
        want, want_scores = mha_reference(q, v, k, weights, 3, mask)
        np.testing.assert_allclose(to_numpy(out), want, rtol=1e-4, atol=1e-5, err_msg=str(list(kwargs)))
        np.testing.assert_allclose(to_numpy(scores), want_scores, rtol=1e-4, atol=1e-6, err_msg=str(list(kwargs)))
        assert to_numpy(out).shape == (2, 4, 5) and to_numpy(scores).shape == (2, 2, 4, 6)


def test_mha_gradients_match_finite_differences():
    q, v = data((2, 3, 4), 5), data((2, 4, 4), 6)
    v_mask = np.array([[1, 1, 0, 1], [1, 1, 1, 1]], bool)
    layer = MultiHeadAttention(num_heads=2, key_dim=2)
    layer(q, v)
    randomize(layer, seed=8)
    cot = np.random.default_rng(9).normal(size=(2, 3, 4))
    q_var = ops.Variable(q)
    variables = layer.trainable_weights + [q_var]

    def loss():
        return ops.sum(ops.multiply(layer(q_var, v, value_mask=v_mask, use_causal_mask=True), cot.astype(np.float32)))
    _, grads = ops.value_and_grad(loss, variables)
    mask = v_mask[:, None, :] & np.tril(np.ones((3, 4), bool))[None]
    values = [w.astype(np.float64) for w in layer.get_weights()] + [q.astype(np.float64)]

    def objective(vals):
        return np.sum(mha_reference(vals[-1], v.astype(np.float64), v.astype(np.float64), vals[:-1], 2, mask)[0] * cot)
    eps = 1e-6
    for index, grad in enumerate(grads):
        numeric = np.zeros_like(values[index])
        for pos in np.ndindex(values[index].shape):
            plus, minus = [x.copy() for x in values], [x.copy() for x in values]
            plus[index][pos] += eps
            minus[index][pos] -= eps
            numeric[pos] = (objective(plus) - objective(minus)) / (2 * eps)
        np.testing.assert_allclose(to_numpy(grad), numeric, rtol=1e-3, atol=1e-4, err_msg=f"gradient {index}")


def test_mha_dropout_only_in_training():
    q = data((2, 5, 4), 10)
    layer = MultiHeadAttention(num_heads=2, key_dim=2, dropout=0.5, seed=1)
    inference = to_numpy(layer(q, q))
    np.testing.assert_allclose(to_numpy(layer(q, q, training=False)), inference, rtol=1e-6)
    want = mha_reference(q, q, q, layer.get_weights(), 2)[0]
    np.testing.assert_allclose(inference, want, rtol=1e-4, atol=1e-5)
    assert not np.allclose(to_numpy(layer(q, q, training=True)), inference, atol=1e-4)


def test_mha_shapes_config_and_errors():
    query, value = hl.Input((5, 8)), hl.Input((7, 6))
    layer = MultiHeadAttention(num_heads=2, key_dim=4, output_shape=3, name="mha")
    out = layer(query, value)
    assert out.shape == (None, 5, 3)
    assert len(layer.weights) == 8   # built from the symbolic call
    out2, scores = MultiHeadAttention(2, 4)(query, value, return_attention_scores=True)
    assert out2.shape == (None, 5, 8) and scores.shape == (None, 2, 5, 7)
    image = hl.Input((3, 4, 6))
    out3, scores3 = MultiHeadAttention(2, 3, attention_axes=(1, 2))(image, image, return_attention_scores=True)
    assert out3.shape == (None, 3, 4, 6) and scores3.shape == (None, 2, 3, 4, 3, 4)
    config = layer.get_config()
    assert json.loads(json.dumps(config)) == config
    clone = MultiHeadAttention.from_config(config)
    assert clone.get_config() == config and config["attention_axes"] == [1]   # built: the resolved axes
    assert config["output_shape"] == [3] and config["value_dim"] == 4
    for bad in ({"num_heads": 0, "key_dim": 2}, {"num_heads": 2, "key_dim": "a"},
                {"num_heads": 2, "key_dim": 2, "value_dim": -1}, {"num_heads": 2, "key_dim": 2, "dropout": 2.0},
                {"num_heads": 2, "key_dim": 2, "sliding_window": 0}):
        with pytest.raises(ValueError, match="MultiHeadAttention"):
            MultiHeadAttention(**bad)
    with pytest.raises(ValueError, match="mha.*rank >= 3"):
        MultiHeadAttention(2, 2, name="mha")(data((2, 3)), data((2, 3)))
    with pytest.raises(ValueError, match="value and key except the last"):
        MultiHeadAttention(2, 2)(data((2, 3, 4)), data((2, 5, 4)), key=data((2, 6, 4)))


def test_mha_matches_keras_with_masks_causal_and_options():
    keras = pytest.importorskip("keras")
    q, v, k = data((2, 5, 6), 11), data((2, 4, 3), 12), data((2, 4, 5), 13)
    v_mask = np.array([[1, 1, 0, 1], [1, 1, 1, 0]], bool)
    attention_mask = np.random.default_rng(0).uniform(size=(2, 5, 4)) > 0.2
    attention_mask[:, :, 0] = True     # no fully masked row: Keras's two code paths agree there
    for options in ({}, {"value_dim": 2, "output_shape": 7}, {"use_bias": False}, {"use_gate": True},
                    {"sliding_window": 2}):
        theirs = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3, **options)
        theirs(q, v, key=k)
        ours = MultiHeadAttention(num_heads=2, key_dim=3, **options)
        ours(q, v, key=k)
        ours.set_weights(theirs.get_weights())
        for kwargs in ({}, {"value_mask": v_mask}, {"attention_mask": attention_mask, "use_causal_mask": True},
                       {"key_mask": v_mask, "use_causal_mask": True}):
            want, want_scores = theirs(q, v, key=k, return_attention_scores=True, **kwargs)
            got, got_scores = ours(q, v, key=k, return_attention_scores=True, **kwargs)
            message = f"{options} {list(kwargs)}"
            np.testing.assert_allclose(to_numpy(got), np.asarray(want), rtol=1e-4, atol=1e-5, err_msg=message)
            np.testing.assert_allclose(to_numpy(got_scores), np.asarray(want_scores), rtol=1e-4, atol=1e-6,
                                       err_msg=message)
            # Keras's fused path (no scores returned) gives the same outputs, except on query rows whose
            # keys are all masked (uniform weights there; ours and Keras's masked softmax give zeros).
            live = np.asarray(want_scores).sum(axis=-1).min(axis=1) > 0.5     # (batch, T)
            fused = np.asarray(theirs(q, v, key=k, **kwargs))
            np.testing.assert_allclose(to_numpy(ours(q, v, key=k, **kwargs))[live], fused[live], rtol=1e-4,
                                       atol=1e-5, err_msg=message)


def test_mha_attention_axes_matches_keras():
    keras = pytest.importorskip("keras")
    x = data((2, 3, 4, 6), 14)
    theirs = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3, attention_axes=(1, 2))
    want, want_scores = theirs(x, x, return_attention_scores=True)
    ours = MultiHeadAttention(num_heads=2, key_dim=3, attention_axes=(1, 2))
    ours(x, x)
    ours.set_weights(theirs.get_weights())
    got, got_scores = ours(x, x, return_attention_scores=True)
    np.testing.assert_allclose(to_numpy(got), np.asarray(want), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(to_numpy(got_scores), np.asarray(want_scores), rtol=1e-4, atol=1e-6)
    # Attention over one axis of a 4-D input (the other is a batch axis): einsum path.
    theirs = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3, attention_axes=2)
    want = theirs(x, x, use_causal_mask=False)
    ours = MultiHeadAttention(num_heads=2, key_dim=3, attention_axes=2)
    ours(x, x)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(to_numpy(ours(x, x)), np.asarray(want), rtol=1e-4, atol=1e-5)


def test_self_attention_model_trains_with_fit():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 6, 4)).astype(np.float32)
    y = (x[:, :, 0].max(axis=1) > x[:, :, 1].max(axis=1)).astype(np.float32)[:, None]
    inputs = hl.Input((6, 4))
    h = MultiHeadAttention(num_heads=2, key_dim=4)(inputs, inputs)
    h = Attention()([h, inputs])
    outputs = Dense(1, activation="sigmoid")(GlobalAveragePooling1D()(h))
    model = hl.Model(inputs, outputs)
    model.compile(optimizer=hl.optimizers.Adam(0.02), loss="binary_crossentropy")
    losses = model.fit(x, y, epochs=8, batch_size=32, verbose=0).history["loss"]
    assert losses[-1] < 0.8 * losses[0], losses
