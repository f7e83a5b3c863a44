"""Mask propagation through Sequential, functional and nested models (Keras 3's rules).

Independent checks: a padded sequence must give what its unpadded prefix gives (RNNs,
pooling), a layer that does not support masking drops the mask, pass-through layers keep
it; and whole models against Keras 3 with copied weights (where Keras attaches masks to
tensors). Also: the fast path of mask-free graphs, explicit masks, fit with masks.
"""

import numpy as np
import pytest

import highlevel as hl
from highlevel import ops
from highlevel.layers import (GRU, LSTM, Attention, Dense, Embedding, GlobalAveragePooling1D, Layer, Masking,
                              MultiHeadAttention, SimpleRNN)
from highlevel.models.mask_plan import graph_plan


@pytest.fixture(autouse=True)
def seeded():
    hl.utils.set_random_seed(0)


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


IDS = np.array([[3, 7, 2, 5, 0, 0], [4, 1, 0, 0, 0, 0], [9, 8, 7, 6, 5, 4]])
LENGTHS = [4, 2, 6]


class NoMasking(Layer):
    """An identity layer that does not support masking: masks stop here."""

    def call(self, inputs):
        return inputs


def test_padded_sequences_give_what_their_prefixes_give():
    model = hl.Sequential([hl.Input((6,), dtype="int32"), Embedding(10, 4, mask_zero=True), Dense(5),
                           LSTM(3, return_sequences=True), GRU(2)])
    out = to_numpy(model(IDS))
    for row, length in enumerate(LENGTHS):
        prefix = to_numpy(model.layers[3](model.layers[2](model.layers[1](model.layers[0](IDS[row:row + 1, :length])))))
        np.testing.assert_allclose(out[row], prefix[0], rtol=1e-5, atol=1e-6)
    assert graph_plan(model._graph).active
    assert model.compute_mask(ops.convert_to_tensor(IDS)) is None    # the last GRU returns no sequences
    head = hl.Sequential([hl.Input((6,), dtype="int32")] + model.layers[:3])
    np.testing.assert_array_equal(to_numpy(head.compute_mask(ops.convert_to_tensor(IDS))), IDS != 0)


def test_layers_without_masking_support_drop_the_mask():
    def build(middle):
        return hl.Sequential([hl.Input((6,), dtype="int32"), Embedding(10, 3, mask_zero=True), middle,
                              SimpleRNN(2)])
    dropped, kept = build(NoMasking()), build(Dense(3))
    unmasked = hl.Sequential([hl.Input((6,), dtype="int32"), Embedding(10, 3), NoMasking(), SimpleRNN(2)])
    unmasked.set_weights(dropped.get_weights())
    assert not NoMasking().supports_masking and Dense(2).supports_masking
    np.testing.assert_allclose(to_numpy(dropped(IDS)), to_numpy(unmasked(IDS)), rtol=1e-6)
    # Dense forwards the mask: the padded steps are skipped.
    short = to_numpy(kept.layers[2](kept.layers[1](kept.layers[0](IDS[1:2, :2]))))
    np.testing.assert_allclose(to_numpy(kept(IDS))[1], short[0], rtol=1e-5, atol=1e-6)


def test_masking_layer_feeds_an_rnn_and_pooling():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 5, 2)).astype(np.float32)
    x[0, 3:] = 0.0
    x[1, 1:] = 0.0
    inputs = hl.Input((5, 2))
    h = Masking()(inputs)
    lstm, gru = LSTM(3, return_sequences=True), GRU(2)
    model = hl.Model(inputs, [GlobalAveragePooling1D()(lstm(h)), gru(h)])
    pooled, last = (to_numpy(t) for t in model(x))
    steps = to_numpy(lstm(x))          # the LSTM on the raw sequence (no mask)
    for row, length in enumerate([3, 1, 5]):
        prefix = to_numpy(lstm(x[row:row + 1, :length]))[0]
        np.testing.assert_allclose(pooled[row], prefix.mean(axis=0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(last[row], to_numpy(gru(x[row:row + 1, :length]))[0], rtol=1e-5, atol=1e-6)
    assert not np.allclose(pooled[0], steps[0].mean(axis=0))


def test_masks_reach_attention_layers_and_match_keras():
    keras = pytest.importorskip("keras")

    def build(mod):
        ids = mod.Input((6,), dtype="int32")
        e = mod.layers.Embedding(10, 8, mask_zero=True)(ids)
        # (Keras's MultiHeadAttention deletes the mask attached to its input tensors, so Keras would
        # drop the mask of a residual Add([attention, e]); ours keeps it. Here e is used once.)
        a = mod.layers.MultiHeadAttention(num_heads=2, key_dim=4)(e, e)
        c = mod.layers.Add()([a, mod.layers.Dense(8)(a)])
        b = mod.layers.Attention(use_scale=True)([c, a])
        pooled = mod.layers.GlobalAveragePooling1D()(b)
        seq = mod.layers.LSTM(3)(c)
        return mod.Model(ids, mod.layers.Concatenate()([mod.layers.Dense(3)(pooled), seq]))
    theirs, ours = build(keras), build(hl)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(to_numpy(ours(IDS)), np.asarray(theirs(IDS)), rtol=1e-4, atol=1e-5)
    # Without the masks the outputs differ (so the comparison above saw them).
    plain = build(hl)
    plain.get_layer(index=1).mask_zero = False
    plain.get_layer(index=1).supports_masking = False
    plain = type(plain).from_config(plain.get_config())
    plain.set_weights(theirs.get_weights())
    assert not np.allclose(to_numpy(plain(IDS)), np.asarray(theirs(IDS)), atol=1e-3)


def test_nested_models_propagate_masks_and_match_keras():
    keras = pytest.importorskip("keras")
    x = np.random.default_rng(2).normal(size=(3, 5, 2)).astype(np.float32)
    x[0, 3:] = 0.0
    x[2, 1] = 0.0

    def build(mod):
        inner = mod.Sequential([mod.Input((5, 2)), mod.layers.Masking(), mod.layers.Dense(4)])
        i = mod.Input((5, 4))
        block = mod.Model(i, mod.layers.Dense(4)(i))
        outer_in = mod.Input((5, 2))
        return mod.Model(outer_in, mod.layers.SimpleRNN(3)(block(inner(outer_in))))
    theirs, ours = build(keras), build(hl)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(to_numpy(ours(x)), np.asarray(theirs(x)), rtol=1e-5, atol=1e-6)
    inner = ours.layers[1]
    np.testing.assert_array_equal(to_numpy(inner.compute_mask(ops.convert_to_tensor(x))), np.any(x != 0, axis=-1))


def test_explicit_masks_to_models_and_layers():
    x = np.random.default_rng(3).normal(size=(2, 4, 3)).astype(np.float32)
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 0]], bool)
    model = hl.Sequential([hl.Input((4, 3)), Dense(3), GRU(2)])
    assert not graph_plan(model._graph).active       # no mask source: the plain loop
    masked = to_numpy(model(x, mask=mask))
    gru, dense = model.layers[1], model.layers[0]
    np.testing.assert_allclose(masked, to_numpy(gru(dense(x), mask=mask)), rtol=1e-6)
    np.testing.assert_allclose(masked[0], to_numpy(gru(dense(x[:1, :2])))[0], rtol=1e-5, atol=1e-6)
    # A functional graph built with an explicit mask tensor uses it.
    inputs, mask_in = hl.Input((4, 3)), hl.Input((4,), dtype="bool")
    func = hl.Model([inputs, mask_in], GRU(2)(inputs, mask=mask_in))
    func.set_weights(gru.get_weights())
    np.testing.assert_allclose(to_numpy(func([x, mask])), to_numpy(gru(x, mask=mask)), rtol=1e-6)
    # A subclassed model passes masks itself.

    class Tagger(hl.Model):
        def __init__(self):
            super().__init__()
            self.embed = Embedding(10, 4, mask_zero=True)
            self.rnn = SimpleRNN(2)

        def call(self, ids):
            return self.rnn(self.embed(ids), mask=self.embed.compute_mask(ids))
    tagger = Tagger()
    out = to_numpy(tagger(IDS))
    np.testing.assert_allclose(out[1], to_numpy(tagger(IDS[1:2, :2]))[0], rtol=1e-5, atol=1e-6)
    assert not tagger.supports_masking


def test_mask_free_graphs_keep_the_plain_path():
    inputs = hl.Input((4,))
    h = Dense(4)(inputs)
    model = hl.Model(inputs, hl.layers.Add()([h, Dense(4)(h)]))
    model(np.zeros((2, 4), np.float32))
    assert not graph_plan(model._graph).active
    seq = hl.Sequential([hl.Input((3, 2)), LSTM(2, return_sequences=True), GlobalAveragePooling1D()])
    seq(np.zeros((1, 3, 2), np.float32))
    assert seq._call_plan[-1] is False
    assert graph_plan(hl.Sequential([hl.Input((3,)), Embedding(4, 2, mask_zero=True)])._graph).active

    class WithMask(Layer):
        def compute_mask(self, inputs, mask=None):
            return mask
    assert WithMask().supports_masking     # defining compute_mask means supporting masks (Keras 3)


def test_model_with_masks_trains_with_fit():
    rng = np.random.default_rng(0)
    lengths = rng.integers(2, 9, size=160)
    ids = rng.integers(1, 12, size=(160, 8)) * (np.arange(8)[None, :] < lengths[:, None])
    y = (lengths > 5).astype(np.float32)[:, None]       # needs the mask (or counting) to see the length
    model = hl.Sequential([hl.Input((8,), dtype="int32"), Embedding(12, 8, mask_zero=True), LSTM(8),
                           Dense(1, activation="sigmoid")])
    model.compile(optimizer=hl.optimizers.Adam(0.02), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(ids, y, epochs=8, batch_size=32, verbose=0).history
    assert history["loss"][-1] < 0.7 * history["loss"][0], history["loss"]
    evaluated = model.evaluate(ids, y, verbose=0, return_dict=True)
    assert evaluated["accuracy"] > 0.75


def test_attention_query_mask_zeroes_masked_steps_in_a_model():
    ids = hl.Input((6,), dtype="int32")
    e = Embedding(10, 4, mask_zero=True)(ids)
    out = Attention()([e, e])
    model = hl.Model(ids, [out, MultiHeadAttention(2, 2)(e, e)])
    att, mha = (to_numpy(t) for t in model(IDS))
    np.testing.assert_array_equal(att[1, 2:], 0.0)            # padded query steps output zeros
    # MHA: the valid rows equal a run on the unpadded prefix.
    layer = model.layers[-1]
    emb = model.layers[1]
    prefix = to_numpy(layer(emb(IDS[1:2, :2]), emb(IDS[1:2, :2])))
    np.testing.assert_allclose(mha[1, :2], prefix[0], rtol=1e-5, atol=1e-6)
