"""The compiled loss and metrics honour the model outputs' masks (Keras 3's rule).

Keras 3 multiplies the per-step loss by the output's mask and averages over the
unmasked entries (``sum(loss * mask * sample_weight) / sum(mask)`` for the default
reduction); mean metrics (accuracy, mae, ...) count the unmasked entries only.
Checked (1) against Keras 3 itself on the same models with copied weights (evaluate,
fit logs and the weights after a few SGD steps) and (2) against NumPy written here
(the masked averages from the model's predictions, and one SGD step of a
``Masking`` -> ``Dense`` model whose gradient has a closed form). Mask-free models and
models whose mask stops before the output are unchanged.
"""

import numpy as np
import pytest

import highlevel as hl
from highlevel import ops
from highlevel.trainers import output_masks

B, T, V = 6, 5, 9
RNG = np.random.default_rng(7)
IDS = RNG.integers(1, V, size=(B, T))
IDS[0, 3:] = 0
IDS[1, 1:] = 0
IDS[3, 2:] = 0
IDS[4, 4] = 0
MASK = IDS != 0
Y_SEQ = RNG.normal(size=(B, T, 2)).astype(np.float32)
TAGS = RNG.integers(0, 3, size=(B, T))
SCORE = RNG.normal(size=(B, 1)).astype(np.float32)
STEP_WEIGHTS = RNG.uniform(0.2, 2.0, size=(B, T)).astype(np.float32)


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras", reason="Keras 3 is the reference for the masked loss")


@pytest.fixture(autouse=True)
def seeded():
    hl.utils.set_random_seed(0)


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def masked_mean(values, mask, weights=None):
    """Keras's masked loss: the weighted sum over unmasked entries / the number of unmasked entries."""
    weights = np.ones_like(values) if weights is None else weights
    return float((values * mask * weights).sum() / mask.sum())


def weighted_mean(values, weights):
    """A mean metric: the weighted sum / the sum of the weights."""
    return float((values * weights).sum() / weights.sum())


def copy_weights(ours, theirs):
    ours.set_weights([np.asarray(w) for w in theirs.get_weights()])


def assert_same_weights(ours, theirs, atol=2e-6):
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(to_numpy(a), np.asarray(b), rtol=1e-5, atol=atol)


def tagger(mod, sequential=None):
    """Embedding(mask_zero) -> LSTM(return_sequences) -> TimeDistributed(Dense): an output mask (B, T)."""
    return (sequential or mod.Sequential)([mod.Input((T,), dtype="int32"), mod.layers.Embedding(V, 4, mask_zero=True),
                           mod.layers.LSTM(5, return_sequences=True),
                           mod.layers.TimeDistributed(mod.layers.Dense(2))])


def two_heads(mod):
    """A per-step softmax head (masked) and a per-sequence head (no mask) on one masked encoder."""
    ids = mod.Input((T,), dtype="int32", name="ids")
    h = mod.layers.Embedding(V, 4, mask_zero=True)(ids)
    seq = mod.layers.LSTM(5, return_sequences=True)(h)
    tags = mod.layers.Dense(3, activation="softmax", name="tags")(seq)
    score = mod.layers.Dense(1, name="score")(mod.layers.GRU(3)(seq))
    return mod.Model(ids, {"tags": tags, "score": score})


def test_sequential_masked_loss_and_metrics_match_keras_and_numpy(keras):
    theirs, ours = tagger(keras), tagger(hl)
    copy_weights(ours, theirs)
    for model, mod in ((theirs, keras), (ours, hl)):
        model.compile(optimizer=mod.optimizers.SGD(0.1), loss="mse", metrics=["mae"], weighted_metrics=["mse"])
    got = ours.evaluate(IDS, Y_SEQ, sample_weight=STEP_WEIGHTS, batch_size=B, verbose=0, return_dict=True)
    want = theirs.evaluate(IDS, Y_SEQ, sample_weight=STEP_WEIGHTS, batch_size=B, verbose=0, return_dict=True)
    assert set(got) == set(want) == {"loss", "mae", "mse"}
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5, err_msg=name)
    # Independently: from the predictions, the mask and the weights.
    pred = ours.predict(IDS, verbose=0)
    sq, ab = ((pred - Y_SEQ) ** 2).mean(-1), np.abs(pred - Y_SEQ).mean(-1)
    np.testing.assert_allclose(got["loss"], masked_mean(sq, MASK, STEP_WEIGHTS), rtol=1e-5)
    np.testing.assert_allclose(got["mae"], weighted_mean(ab, MASK), rtol=1e-5)               # unweighted metric
    np.testing.assert_allclose(got["mse"], weighted_mean(sq, MASK * STEP_WEIGHTS), rtol=1e-5)
    # Targets at padded steps do not count.
    moved = np.where(MASK[..., None], Y_SEQ, Y_SEQ + 100.0)
    again = ours.evaluate(IDS, moved, sample_weight=STEP_WEIGHTS, batch_size=B, verbose=0, return_dict=True)
    for name in got:
        np.testing.assert_allclose(again[name], got[name], rtol=1e-6, err_msg=name)

    # Training: the same logs and the same weights after a few SGD steps (batches of 2, 2 epochs).
    got = ours.fit(IDS, Y_SEQ, sample_weight=STEP_WEIGHTS, batch_size=2, epochs=2, shuffle=False, verbose=0)
    want = theirs.fit(IDS, Y_SEQ, sample_weight=STEP_WEIGHTS, batch_size=2, epochs=2, shuffle=False, verbose=0)
    for name in ("loss", "mae", "mse"):
        np.testing.assert_allclose(got.history[name], want.history[name], rtol=2e-5, err_msg=name)
    assert_same_weights(ours, theirs)


def test_functional_outputs_each_use_their_own_mask(keras):
    theirs, ours = two_heads(keras), two_heads(hl)
    copy_weights(ours, theirs)
    for model, mod in ((theirs, keras), (ours, hl)):
        model.compile(optimizer=mod.optimizers.SGD(0.2), loss={"tags": "sparse_categorical_crossentropy",
                                                                "score": "mse"},
                      loss_weights={"tags": 1.0, "score": 0.5}, metrics={"tags": ["accuracy"], "score": ["mae"]})
    y = {"tags": TAGS, "score": SCORE}
    # Two batches of 3. (With an uneven last batch Keras's per-output loss trackers average the batch
    # losses unweighted, ours weight them by batch size as its "loss" tracker does.)
    got = ours.evaluate(IDS, y, batch_size=3, verbose=0, return_dict=True)
    want = theirs.evaluate(IDS, y, batch_size=3, verbose=0, return_dict=True)
    assert set(got) == set(want)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5, err_msg=name)
    # Independently, batch by batch as the loss trackers average them (weighted by batch size).
    pred = ours.predict(IDS, verbose=0)
    probs = pred["tags"][np.arange(B)[:, None], np.arange(T)[None, :], TAGS]
    ce = -np.log(np.clip(probs, 1e-7, 1.0))
    sq = ((pred["score"] - SCORE) ** 2)[:, 0]
    batches = [slice(0, 3), slice(3, 6)]
    tags_loss = sum(masked_mean(ce[s], MASK[s]) * (s.stop - s.start) for s in batches) / B
    np.testing.assert_allclose(got["tags_loss"], tags_loss, rtol=1e-5)
    np.testing.assert_allclose(got["score_loss"], sq.mean(), rtol=1e-5)        # the unmasked output
    np.testing.assert_allclose(got["loss"], tags_loss + 0.5 * sq.mean(), rtol=1e-5)
    hits = pred["tags"].argmax(-1) == TAGS
    np.testing.assert_allclose(got["tags_accuracy"], hits[MASK].mean(), rtol=1e-6)
    np.testing.assert_allclose(got["score_mae"], np.abs(pred["score"] - SCORE).mean(), rtol=1e-5)

    got = ours.fit(IDS, y, batch_size=3, epochs=2, shuffle=False, verbose=0).history
    want = theirs.fit(IDS, y, batch_size=3, epochs=2, shuffle=False, verbose=0).history
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=2e-5, err_msg=name)
    assert_same_weights(ours, theirs)


def masking_dense(mod):
    """``Masking`` at the input of a per-step ``Dense``: a seq2seq model whose gradient is closed-form."""
    return mod.Sequential([mod.Input((T, 3)), mod.layers.Masking(0.0), mod.layers.Dense(2)])


def test_one_sgd_step_equals_the_numpy_gradient_of_the_masked_loss(keras):
    x = RNG.normal(size=(B, T, 3)).astype(np.float32) * MASK[..., None]   # padded steps are all zeros
    theirs, ours = masking_dense(keras), masking_dense(hl)
    copy_weights(ours, theirs)
    kernel, bias = (to_numpy(w).astype(np.float64) for w in ours.get_weights())
    lr = 0.5
    for model, mod in ((theirs, keras), (ours, hl)):
        model.compile(optimizer=mod.optimizers.SGD(lr), loss="mse")
    logs = ours.train_on_batch(x, Y_SEQ, sample_weight=STEP_WEIGHTS, return_dict=True)
    keras_loss = theirs.train_on_batch(x, Y_SEQ, sample_weight=STEP_WEIGHTS, return_dict=True)["loss"]
    # loss = sum_{b,t} m w mean_u (x W + b - y)^2 / sum(m)  =>  dL/dpred = 2 m w (pred - y) / (U sum(m)).
    pred = x @ kernel + bias
    residual = pred - Y_SEQ
    np.testing.assert_allclose(logs["loss"], masked_mean((residual ** 2).mean(-1), MASK, STEP_WEIGHTS), rtol=1e-5)
    np.testing.assert_allclose(logs["loss"], keras_loss, rtol=1e-6)
    upstream = 2.0 * (MASK * STEP_WEIGHTS)[..., None] * residual / (2 * MASK.sum())
    new_kernel = kernel - lr * np.einsum("btf,btu->fu", x, upstream)
    new_bias = bias - lr * upstream.sum(axis=(0, 1))
    got_kernel, got_bias = (to_numpy(w) for w in ours.get_weights())
    np.testing.assert_allclose(got_kernel, new_kernel, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_bias, new_bias, rtol=1e-5, atol=1e-6)
    assert_same_weights(ours, theirs)
    unmasked = 2.0 * STEP_WEIGHTS[..., None] * residual / (2 * B * T)      # every step counted
    assert not np.allclose(got_bias, bias - lr * unmasked.sum(axis=(0, 1)), atol=1e-4)


def test_models_without_an_output_mask_are_unchanged(keras):
    # A mask source whose mask stops before the output (LSTM without return_sequences).
    def encoder(mod):
        return mod.Sequential([mod.Input((T,), dtype="int32"), mod.layers.Embedding(V, 4, mask_zero=True),
                               mod.layers.LSTM(3), mod.layers.Dense(1)])
    theirs, ours = encoder(keras), encoder(hl)
    copy_weights(ours, theirs)
    for model, mod in ((theirs, keras), (ours, hl)):
        model.compile(optimizer=mod.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
    got = ours.evaluate(IDS, SCORE, verbose=0, return_dict=True)
    want = theirs.evaluate(IDS, SCORE, verbose=0, return_dict=True)
    pred = ours.predict(IDS, verbose=0)
    np.testing.assert_allclose(got["loss"], ((pred - SCORE) ** 2).mean(), rtol=1e-5)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5)
    # A mask-free seq2seq model: every step counts; the steps run without a mask table.
    plain = hl.Sequential([hl.Input((T, 2)), hl.layers.Dense(2)])
    plain.compile(optimizer="sgd", loss="mse")
    assert not output_masks.may_mask_outputs(plain)
    x = RNG.normal(size=(B, T, 2)).astype(np.float32)
    x[0, 3:] = 0.0    # zeros are data here, not padding
    loss = plain.evaluate(x, Y_SEQ, verbose=0)
    np.testing.assert_allclose(loss, ((plain.predict(x, verbose=0) - Y_SEQ) ** 2).mean(), rtol=1e-5)
    assert "_step_output_masks" not in vars(plain)


def test_per_sample_weights_weight_every_step_of_a_masked_output():
    # Keras 3 fails on (batch,) weights with a (batch, steps) mask ("Dimensions must be equal");
    # ours weights each sample's steps (as it does without a mask) and averages over the unmasked steps.
    model = tagger(hl)
    model.compile(optimizer="sgd", loss="mse")
    per_sample = np.linspace(0.5, 2.0, B).astype(np.float32)
    loss = model.evaluate(IDS, Y_SEQ, sample_weight=per_sample, verbose=0)
    sq = ((model.predict(IDS, verbose=0) - Y_SEQ) ** 2).mean(-1)
    np.testing.assert_allclose(loss, masked_mean(sq, MASK, per_sample[:, None] * np.ones((1, T))), rtol=1e-5)


def test_output_mask_combines_with_the_loss_own_mask(keras):
    # SparseCategoricalCrossentropy(ignore_class=1) masks the labels 1; the output mask the padding.
    def build(mod):
        return mod.Sequential([mod.Input((T,), dtype="int32"), mod.layers.Embedding(V, 4, mask_zero=True),
                               mod.layers.SimpleRNN(4, return_sequences=True),
                               mod.layers.Dense(3, activation="softmax")])
    theirs, ours = build(keras), build(hl)
    copy_weights(ours, theirs)
    for model, mod in ((theirs, keras), (ours, hl)):
        model.compile(optimizer="sgd", loss=mod.losses.SparseCategoricalCrossentropy(ignore_class=1))
    got, want = ours.evaluate(IDS, TAGS, verbose=0), theirs.evaluate(IDS, TAGS, verbose=0)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    probs = ours.predict(IDS, verbose=0)[np.arange(B)[:, None], np.arange(T)[None, :], TAGS]
    keep = MASK & (TAGS != 1)
    np.testing.assert_allclose(got, masked_mean(-np.log(probs), keep), rtol=1e-5)


def test_subclassed_models_mask_through_their_compute_mask():
    y = Y_SEQ

    class Tagger(hl.Model):
        def __init__(self):
            super().__init__()
            self.embed = hl.layers.Embedding(V, 4, mask_zero=True)
            self.rnn = hl.layers.GRU(3, return_sequences=True)
            self.head = hl.layers.Dense(2)

        def call(self, ids):
            return self.head(self.rnn(self.embed(ids), mask=self.embed.compute_mask(ids)))

    class MaskedTagger(Tagger):
        def compute_mask(self, inputs, mask=None):
            return self.embed.compute_mask(inputs)

    # Keras would find the mask on the output tensor (its layers attach it); ours need compute_mask.
    plain, masked = Tagger(), MaskedTagger()
    plain(IDS)
    masked(IDS)
    masked.set_weights(plain.get_weights())
    assert not output_masks.may_mask_outputs(plain) and output_masks.may_mask_outputs(masked)
    sq = ((to_numpy(plain(IDS)) - y) ** 2).mean(-1)
    for model in (plain, masked):
        model.compile(optimizer="sgd", loss="mse", metrics=["mse"])
    got_plain = plain.evaluate(IDS, y, verbose=0, return_dict=True)
    got_masked = masked.evaluate(IDS, y, verbose=0, return_dict=True)
    np.testing.assert_allclose(got_plain["loss"], sq.mean(), rtol=1e-5)
    np.testing.assert_allclose(got_masked["loss"], masked_mean(sq, MASK), rtol=1e-5)
    np.testing.assert_allclose(got_masked["mse"], masked_mean(sq, MASK), rtol=1e-5)

    class WrongCount(Tagger):
        def compute_mask(self, inputs, mask=None):
            return [self.embed.compute_mask(inputs)] * 2
    wrong = WrongCount()
    wrong.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="compute_mask returned 2 mask"):
        wrong.evaluate(IDS, y, verbose=0)


def test_custom_train_step_gets_the_masks_of_its_forward_pass():
    class Custom(hl.Sequential):
        def train_step(self, data):
            x, y = data

            def forward():
                y_pred = self(x, training=True)
                return self.compute_loss(x=x, y=y, y_pred=y_pred), y_pred
            (loss, y_pred), grads = ops.value_and_grad(forward, self.trainable_weights, has_aux=True)
            self.optimizer.apply(grads, self.trainable_weights)
            self._loss_tracker.update_state(loss, B)
            return self.compute_metrics(x, y, y_pred)

    reference, custom = tagger(hl), tagger(hl, Custom)
    custom.set_weights(reference.get_weights())
    for model in (reference, custom):
        model.compile(optimizer=hl.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
    before = custom.predict(IDS, verbose=0)
    want = reference.fit(IDS, Y_SEQ, batch_size=B, epochs=2, verbose=0).history
    got = custom.fit(IDS, Y_SEQ, batch_size=B, epochs=2, verbose=0).history
    # One batch per epoch: the first epoch's logs are the masked averages at the initial weights.
    np.testing.assert_allclose(got["loss"][0], masked_mean(((before - Y_SEQ) ** 2).mean(-1), MASK), rtol=1e-5)
    np.testing.assert_allclose(got["mae"][0], masked_mean(np.abs(before - Y_SEQ).mean(-1), MASK), rtol=1e-5)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5, err_msg=name)
    for a, b in zip(custom.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-5, atol=1e-6)


def test_a_mask_that_does_not_fit_the_loss_values_is_a_clear_error():
    def whole_sequence_mse(y_true, y_pred):       # reduces the masked time axis as well
        return ops.mean(ops.square(ops.subtract(y_true, y_pred)), axis=(1, 2))
    model = tagger(hl)
    model.compile(optimizer="sgd", loss=whole_sequence_mse)
    with pytest.raises(ValueError, match=r"mask has shape \(6, 5\).*values of shape \(6,\)"):
        model.evaluate(IDS, Y_SEQ, verbose=0)
