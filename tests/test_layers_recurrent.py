"""Recurrent layers against NumPy loops of the textbook equations, finite differences and Keras 3.

SimpleRNN, LSTM, GRU (both reset_after variants) and their cells; the fused path
(``hl.ops.lstm``/``gru``, torch's own kernels on torch) against the step-by-step loop
(values and gradients); masks (a masked step keeps the states and repeats the output),
go_backwards, return_sequences/return_state, initial states, stateful layers, dropout in
training vs inference; RNN with a user cell and stacked cells; Bidirectional merge modes;
TimeDistributed; Keras parity with copied weights; configs, shape inference, errors; fit.
"""

import numpy as np
import pytest

import highlevel as hl
from highlevel import ops
from highlevel.layers import (GRU, LSTM, RNN, Bidirectional, Dense, GRUCell, Layer, LSTMCell, SimpleRNN,
                              SimpleRNNCell, StackedRNNCells, TimeDistributed)

B, T, F, U = 3, 5, 4, 3


@pytest.fixture(autouse=True)
def seeded():
    hl.utils.set_random_seed(0)


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def data(key=0, shape=(B, T, F)):
    return np.random.default_rng(key).normal(size=shape).astype(np.float32)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# ------------------------------------------------------------------ NumPy references


def np_cell_lstm(weights):
    kernel, recurrent, bias = (list(weights) + [None])[:3]

    def step(x, states):
        h, c = states
        u = h.shape[1]
        z = x @ kernel + h @ recurrent + (0 if bias is None else bias)
        i, f, g, o = sigmoid(z[:, :u]), sigmoid(z[:, u:2 * u]), np.tanh(z[:, 2 * u:3 * u]), sigmoid(z[:, 3 * u:])
        c = f * c + i * g
        h = o * np.tanh(c)
        return h, [h, c]
    return step


def np_cell_gru(weights, reset_after=True):
    kernel, recurrent, bias = (list(weights) + [None])[:3]

    def step(x, states):
        (h,) = states
        u = h.shape[1]
        if bias is None:
            b_in, b_rec = 0, 0
        elif reset_after:
            b_in, b_rec = bias[0], bias[1]
        else:
            b_in, b_rec = bias, 0
        xw = x @ kernel + b_in
        z_r = h @ recurrent[:, :2 * u] + (b_rec[:2 * u] if reset_after and bias is not None else 0)
        z = sigmoid(xw[:, :u] + z_r[:, :u])
        r = sigmoid(xw[:, u:2 * u] + z_r[:, u:])
        if reset_after:
            inner = h @ recurrent[:, 2 * u:] + (b_rec[2 * u:] if bias is not None else 0)
            candidate = np.tanh(xw[:, 2 * u:] + r * inner)
        else:
            candidate = np.tanh(xw[:, 2 * u:] + (r * h) @ recurrent[:, 2 * u:])
        h = z * h + (1 - z) * candidate
        return h, [h]
    return step


def np_cell_simple(weights, activation=np.tanh):
    kernel, recurrent, bias = (list(weights) + [None])[:3]

    def step(x, states):
        h = activation(x @ kernel + states[0] @ recurrent + (0 if bias is None else bias))
        return h, [h]
    return step


def np_rnn(step, x, states, mask=None, go_backwards=False, zero_output_for_mask=False):
    """Keras's loop: a masked step keeps the states and repeats the previous output (or zeros)."""
    order = range(x.shape[1] - 1, -1, -1) if go_backwards else range(x.shape[1])
    outputs, previous = [], None
    for t in order:
        out, new = step(x[:, t], states)
        if mask is not None:
            keep = mask[:, t][:, None]
            previous = np.zeros_like(out) if previous is None or zero_output_for_mask else previous
            out = np.where(keep, out, previous)
            new = [np.where(keep, n, s) for n, s in zip(new, states)]
            previous = out
        states = new
        outputs.append(out)
    return np.stack(outputs, 1), states


def zeros_states(count, units=U, batch=B):
    return [np.zeros((batch, units)) for _ in range(count)]


def reference(layer, x, mask=None, initial=None, weights=None):
    """(sequence outputs, final states) of ``layer`` (SimpleRNN/LSTM/GRU) computed with NumPy
    (from ``weights`` when given, else the layer's)."""
    weights = [np.asarray(w, np.float64) for w in (weights if weights is not None else layer.get_weights())]
    if isinstance(layer, LSTM):
        step, count = np_cell_lstm(weights), 2
    elif isinstance(layer, GRU):
        step, count = np_cell_gru(weights, layer.reset_after), 1
    else:
        step, count = np_cell_simple(weights), 1
    states = initial if initial is not None else zeros_states(count, layer.units, x.shape[0])
    return np_rnn(step, np.asarray(x, np.float64), states, mask, layer.go_backwards, layer.zero_output_for_mask)


LAYERS = {
    "lstm": lambda **kw: LSTM(U, **kw),
    "gru": lambda **kw: GRU(U, **kw),
    "gru_reset_before": lambda **kw: GRU(U, reset_after=False, **kw),
    "simple_rnn": lambda **kw: SimpleRNN(U, **kw),
    "lstm_no_bias": lambda **kw: LSTM(U, use_bias=False, **kw),
    "gru_no_bias": lambda **kw: GRU(U, use_bias=False, **kw),
}
FUSABLE = ("lstm", "gru", "lstm_no_bias", "gru_no_bias")


def randomize(layer, key=1):
    """Non-trivial weights (the default bias is mostly zeros)."""
    rng = np.random.default_rng(key)
    layer.set_weights([rng.normal(scale=0.5, size=w.shape).astype(np.float32) for w in layer.get_weights()])


# ------------------------------------------------------------- forward vs NumPy


@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
@pytest.mark.parametrize("use_cudnn", ["auto", False], ids=["fused", "steps"])
@pytest.mark.parametrize("name", list(LAYERS))
def test_forward_matches_numpy(name, use_cudnn, go_backwards):
    if use_cudnn == "auto" and name not in FUSABLE:
        pytest.skip("no fused op")
    kwargs = {"use_cudnn": use_cudnn} if name in FUSABLE else {}
    layer = LAYERS[name](return_sequences=True, return_state=True, go_backwards=go_backwards, **kwargs)
    x = data()
    layer(x)
    randomize(layer)
    outputs, *states = layer(x)
    want_outputs, want_states = reference(layer, x)
    np.testing.assert_allclose(to_numpy(outputs), want_outputs, rtol=1e-5, atol=1e-5)
    assert len(states) == len(want_states)
    for got, want in zip(states, want_states):
        np.testing.assert_allclose(to_numpy(got), want, rtol=1e-5, atol=1e-5)
    last = LAYERS[name](go_backwards=go_backwards, **kwargs)
    last(x)
    last.set_weights(layer.get_weights())
    np.testing.assert_allclose(to_numpy(last(x)), want_outputs[:, -1], rtol=1e-5, atol=1e-5)


def test_weights_layout_names_and_initial_values():
    lstm, gru, gru_before, simple = LSTM(U), GRU(U), GRU(U, reset_after=False), SimpleRNN(U)
    x = data()
    for layer in (lstm, gru, gru_before, simple):
        layer(x)
    assert [tuple(w.shape) for w in lstm.weights] == [(F, 4 * U), (U, 4 * U), (4 * U,)]
    assert [tuple(w.shape) for w in gru.weights] == [(F, 3 * U), (U, 3 * U), (2, 3 * U)]
    assert [tuple(w.shape) for w in gru_before.weights] == [(F, 3 * U), (U, 3 * U), (3 * U,)]
    assert [tuple(w.shape) for w in simple.weights] == [(F, U), (U, U), (U,)]
    assert [w.path for w in lstm.weights] == [f"{lstm.name}/lstm_cell/{n}" for n in ("kernel", "recurrent_kernel",
                                                                                      "bias")]
    # unit_forget_bias: the forget block starts at 1; recurrent kernels are orthogonal.
    np.testing.assert_array_equal(lstm.get_weights()[2], np.r_[np.zeros(U), np.ones(U), np.zeros(2 * U)])
    recurrent = simple.get_weights()[1]
    np.testing.assert_allclose(recurrent.T @ recurrent, np.eye(U), atol=1e-5)
    assert lstm.units == U and lstm.activation is hl.activations.tanh and gru.reset_after
    assert lstm.count_params() == F * 4 * U + U * 4 * U + 4 * U


# ---------------------------------------------------------- gradients


def layer_gradients(layer, x, cotangent):
    variables = layer.trainable_weights
    x_var = ops.Variable(x)

    def loss():
        return ops.sum(ops.multiply(layer(x_var), cotangent))
    _, grads = ops.value_and_grad(loss, variables + [x_var])
    return [to_numpy(g) for g in grads]


def numeric_gradients(layer, x, cotangent, eps=1e-6):
    """Central differences of sum(reference outputs * cotangent) for every weight and the input."""
    values = [w.astype(np.float64) for w in layer.get_weights()] + [x.astype(np.float64)]

    def objective(vals):
        return float(np.sum(reference(layer, vals[-1], weights=vals[:-1])[0] * cotangent))
    grads = []
    for index, value in enumerate(values):
        g = np.zeros_like(value)
        for position in np.ndindex(value.shape):
            plus, minus = [v.copy() for v in values], [v.copy() for v in values]
            plus[index][position] += eps
            minus[index][position] -= eps
            g[position] = (objective(plus) - objective(minus)) / (2 * eps)
        grads.append(g)
    return grads


@pytest.mark.parametrize("name", ["lstm", "gru", "gru_reset_before", "simple_rnn"])
def test_gradients_fused_and_steps_match_finite_differences(name):
    x = data(shape=(2, 3, 2))
    cotangent = np.random.default_rng(5).uniform(-1, 1, (2, 3, U))
    results = []
    for use_cudnn in (("auto", False) if name in FUSABLE else (False,)):   # fused, then step by step
        kwargs = {"use_cudnn": use_cudnn} if name in FUSABLE else {}
        layer = LAYERS[name](return_sequences=True, go_backwards=True, **kwargs)
        layer(x)
        randomize(layer, key=3)
        results.append(layer_gradients(layer, x, cotangent.astype(np.float32)))
    expected = numeric_gradients(layer, x, cotangent)
    for grads in results:
        assert len(grads) == len(expected)
        for i, (g, want) in enumerate(zip(grads, expected)):
            np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-5, err_msg=f"{name}: gradient {i}")


# ------------------------------------------------------------------ masks


@pytest.mark.parametrize("zero_output", [False, True])
@pytest.mark.parametrize("name", ["lstm", "gru", "simple_rnn"])
def test_mask_keeps_states_and_repeats_outputs(name, zero_output):
    x = data()
    mask = np.array([[1, 1, 0, 1, 0], [0, 1, 1, 1, 1], [1, 1, 1, 0, 0]], bool)
    cells = {"lstm": LSTMCell(U), "gru": GRUCell(U), "simple_rnn": SimpleRNNCell(U)}
    layer = RNN(cells[name], return_sequences=True, return_state=True, zero_output_for_mask=zero_output,
                go_backwards=True)
    layer(x)
    randomize(layer)
    outputs, *states = layer(x, mask=mask)
    like = {"lstm": LSTM, "gru": GRU, "simple_rnn": SimpleRNN}[name](U, go_backwards=True)
    like(x)
    like.set_weights(layer.get_weights())
    like.zero_output_for_mask = zero_output
    want_outputs, want_states = reference(like, x, mask=mask)
    np.testing.assert_allclose(to_numpy(outputs), want_outputs, rtol=1e-5, atol=1e-5)
    for got, want in zip(states, want_states):
        np.testing.assert_allclose(to_numpy(got), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_masked_call_takes_the_step_path_and_use_cudnn_true_refuses_it(cls):
    x = data()
    mask = np.ones((B, T), bool)
    mask[0, 3:] = False
    layer = cls(U, return_sequences=True)
    out = to_numpy(layer(x, mask=mask))
    want, _ = reference(layer, x, mask=mask)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
    strict = cls(U, use_cudnn=True, name="strict")
    with pytest.raises(ValueError, match="use_cudnn=True.*a mask is given"):
        strict(x, mask=mask)
    with pytest.raises(ValueError, match="activation is not tanh"):
        cls(U, activation="relu", use_cudnn=True)(x)
    assert layer.compute_mask(x, mask) is mask and cls(U).compute_mask(x, mask) is None


# --------------------------------------------- initial states, stateful, dropout


def test_initial_state_argument():
    x = data()
    rng = np.random.default_rng(2)
    h0, c0 = [rng.normal(size=(B, U)).astype(np.float32) for _ in range(2)]
    for use_cudnn in ("auto", False):
        layer = LSTM(U, return_state=True, use_cudnn=use_cudnn)
        out, h, c = layer(x, initial_state=[h0, c0])
        want, (wh, wc) = reference(layer, x, initial=[h0.astype(np.float64), c0.astype(np.float64)])
        np.testing.assert_allclose(to_numpy(out), want[:, -1], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(to_numpy(c), wc, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="expects 2 initial state"):
        layer(x, initial_state=[h0])
    with pytest.raises(ValueError, match=r"initial_state\[1\] must have shape \(3, 3\)"):
        layer(x, initial_state=[h0, c0[:, :2]])


def test_functional_encoder_decoder_with_symbolic_initial_state():
    encoder_in, decoder_in = hl.Input((T, F)), hl.Input((2, F))
    _, h, c = LSTM(U, return_state=True)(encoder_in)
    decoded = LSTM(U, return_sequences=True)(decoder_in, initial_state=[h, c])
    model = hl.Model([encoder_in, decoder_in], decoded)
    assert decoded.shape == (None, 2, U)
    x, y = data(), data(1, (B, 2, F))
    out = to_numpy(model([x, y]))
    encoder, decoder = [layer for layer in model.layers if isinstance(layer, LSTM)]
    _, states = reference(encoder, x)
    want, _ = reference(decoder, y, initial=states)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)


def test_stateful_layer_carries_states_and_resets():
    x = data()
    layer = LSTM(U, stateful=True, return_sequences=True)
    first = to_numpy(layer(x[:, :2]))
    second = to_numpy(layer(x[:, 2:]))
    whole, _ = reference(layer, x)
    np.testing.assert_allclose(np.concatenate([first, second], 1), whole, rtol=1e-5, atol=1e-5)
    assert len(layer.weights) == 3   # the kept states are not weights (as Keras)
    layer.reset_states()
    np.testing.assert_allclose(to_numpy(layer(x[:, :2])), first, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="batch size must stay 3"):
        layer(x[:2])
    functional = hl.Input((T, F))
    with pytest.raises(ValueError, match="stateful=True needs a fixed batch size"):
        LSTM(U, stateful=True)(functional)


def test_dropout_only_in_training_with_one_mask_per_sequence():
    x = np.ones((4, 6, 8), np.float32)
    # Linear SimpleRNN with an identity kernel and no recurrence: output_t = x_t * dropout mask.
    layer = SimpleRNN(8, activation=None, use_bias=False, dropout=0.5, return_sequences=True, seed=3)
    layer(x)
    layer.set_weights([np.eye(8, dtype=np.float32), np.zeros((8, 8), np.float32)])
    np.testing.assert_array_equal(to_numpy(layer(x)), x)
    np.testing.assert_array_equal(to_numpy(layer(x, training=False)), x)
    dropped = to_numpy(layer(x, training=True))
    assert set(np.unique(dropped)) <= {0.0, 2.0} and 0 < np.mean(dropped == 0) < 1
    np.testing.assert_array_equal(dropped, np.repeat(dropped[:, :1], 6, axis=1))   # same mask every step
    for cls in (LSTM, GRU):
        for kwargs in ({"dropout": 0.3}, {"recurrent_dropout": 0.3}):
            noisy = cls(U, **kwargs)
            clean = to_numpy(noisy(data()))
            assert not np.allclose(to_numpy(noisy(data(), training=True)), clean)
            np.testing.assert_array_equal(to_numpy(noisy(data(), training=False)), clean)


# ---------------------------------------------------- RNN with cells, stacking


class MinimalCell(Layer):
    """A user cell: h = tanh(x @ w + h @ v)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.w = self.add_weight((input_shape[-1], self.units), name="w")
        self.v = self.add_weight((self.units, self.units), initializer="orthogonal", name="v")

    def call(self, inputs, states):
        h = ops.tanh(ops.add(ops.matmul(inputs, self.w), ops.matmul(states[0], self.v)))
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_rnn_with_user_cell_and_stacked_cells():
    x = data()
    layer = RNN(MinimalCell(U), return_sequences=True)
    out = to_numpy(layer(x))
    w, v = [a.astype(np.float64) for a in layer.get_weights()]
    want, _ = np_rnn(lambda xt, s: (np.tanh(xt @ w + s[0] @ v),) * 1 + ([np.tanh(xt @ w + s[0] @ v)],),
                     x.astype(np.float64), zeros_states(1))
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
    assert layer.compute_output_shape((None, 7, F)) == (None, 7, U)

    stacked = RNN([LSTMCell(4), GRUCell(U)], return_state=True)
    out, h1, c1, h2 = stacked(x)
    assert isinstance(stacked.cell, StackedRNNCells) and stacked.state_size == [4, 4, U]
    w = [a.astype(np.float64) for a in stacked.get_weights()]
    lstm_step, gru_step = np_cell_lstm(w[:3]), np_cell_gru(w[3:])

    def step(xt, states):
        y, s1 = lstm_step(xt, states[:2])
        y, s2 = gru_step(y, states[2:])
        return y, s1 + s2
    want, want_states = np_rnn(step, x.astype(np.float64), zeros_states(2, 4) + zeros_states(1))
    np.testing.assert_allclose(to_numpy(out), want[:, -1], rtol=1e-5, atol=1e-5)
    for got, exp in zip((h1, c1, h2), want_states):
        np.testing.assert_allclose(to_numpy(got), exp, rtol=1e-5, atol=1e-5)
    clone = RNN.from_config(stacked.get_config())
    assert [type(c) for c in clone.cell.cells] == [LSTMCell, GRUCell] and clone.return_state


# -------------------------------------------------- Bidirectional, TimeDistributed


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_merge_modes(merge_mode):
    x = data()
    layer = Bidirectional(LSTM(U, return_sequences=True), merge_mode=merge_mode)
    out = layer(x)
    forward_w, backward_w = layer.get_weights()[:3], layer.get_weights()[3:]
    fwd, _ = np_rnn(np_cell_lstm([w.astype(np.float64) for w in forward_w]), x.astype(np.float64),
                    zeros_states(2))
    bwd, _ = np_rnn(np_cell_lstm([w.astype(np.float64) for w in backward_w]), x.astype(np.float64),
                    zeros_states(2), go_backwards=True)
    bwd = bwd[:, ::-1]
    want = {"concat": lambda: np.concatenate([fwd, bwd], -1), "sum": lambda: fwd + bwd,
            "mul": lambda: fwd * bwd, "ave": lambda: (fwd + bwd) / 2, None: lambda: [fwd, bwd]}[merge_mode]()
    if merge_mode is None:
        for got, exp in zip(out, want):
            np.testing.assert_allclose(to_numpy(got), exp, rtol=1e-5, atol=1e-5)
    else:
        np.testing.assert_allclose(to_numpy(out), want, rtol=1e-5, atol=1e-5)
    expected_shape = layer.compute_output_shape((None, T, F))
    got_shape = [tuple(ops.shape(o)) for o in out] if merge_mode is None else tuple(ops.shape(out))
    assert [tuple((None,) + s[1:]) for s in got_shape] == [tuple(s) for s in expected_shape] \
        if merge_mode is None else (None,) + got_shape[1:] == expected_shape
    clone = Bidirectional.from_config(layer.get_config())
    assert clone.merge_mode == merge_mode and clone.backward_layer.go_backwards


def test_bidirectional_states_and_errors():
    x = data()
    layer = Bidirectional(GRU(U, return_state=True))
    out, h_forward, h_backward = layer(x)
    assert ops.shape(out) == (B, 2 * U) and ops.shape(h_backward) == (B, U)
    np.testing.assert_allclose(to_numpy(out), np.concatenate([to_numpy(h_forward), to_numpy(h_backward)], -1))
    again = layer(x, initial_state=[h_forward, h_backward])
    assert ops.shape(again[0]) == (B, 2 * U)
    with pytest.raises(ValueError, match="expected an RNN layer"):
        Bidirectional(Dense(3))
    with pytest.raises(ValueError, match="merge_mode"):
        Bidirectional(LSTM(2), merge_mode="max")
    with pytest.raises(ValueError, match="go_backwards must be the opposite"):
        Bidirectional(LSTM(2), backward_layer=LSTM(2))


def test_time_distributed_dense():
    x = data()
    layer = TimeDistributed(Dense(2))
    out = to_numpy(layer(x))
    kernel, bias = layer.get_weights()
    np.testing.assert_allclose(out, x @ kernel + bias, rtol=1e-5, atol=1e-5)
    assert layer.compute_output_shape((None, None, F)) == (None, None, 2)
    clone = TimeDistributed.from_config(layer.get_config())
    assert isinstance(clone.layer, Dense) and clone.layer.units == 2
    inputs = hl.Input((T, F))
    model = hl.Model(inputs, TimeDistributed(Dense(6))(LSTM(U, return_sequences=True)(inputs)))
    assert tuple(model(x).shape) == (B, T, 6)
    with pytest.raises(ValueError, match="min_ndim=3"):
        layer(x[:, 0])


# ------------------------------------------------------------------ Keras parity


def keras_pair(name, keras, **kwargs):
    units = 4
    ours = {"lstm": LSTM, "gru": GRU, "simple_rnn": SimpleRNN}[name]
    theirs = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simple_rnn": keras.layers.SimpleRNN}[name]
    return ours(units, **kwargs), theirs(units, **kwargs)


@pytest.mark.parametrize("options", [{}, {"go_backwards": True, "return_sequences": True, "return_state": True},
                                     {"reset_after": False}, {"use_bias": False, "return_sequences": True}],
                         ids=["default", "backwards_all", "reset_before", "no_bias"])
@pytest.mark.parametrize("name", ["lstm", "gru", "simple_rnn"])
def test_matches_keras_with_copied_weights(name, options):
    keras = pytest.importorskip("keras")
    if "reset_after" in options and name != "gru":
        pytest.skip("GRU only")
    x = data(7)
    ours, theirs = keras_pair(name, keras, **options)
    want = theirs(x)
    ours(x)
    ours.set_weights(theirs.get_weights())
    got = ours(x)
    want = want if isinstance(want, (list, tuple)) else [want]
    got = got if isinstance(got, (list, tuple)) else [got]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(to_numpy(g), np.asarray(w), rtol=1e-5, atol=2e-5)
    mask = np.ones((B, T), bool)
    mask[1, 2] = False
    mask[2, 3:] = False
    want_masked = theirs(x, mask=mask)
    got_masked = ours(x, mask=mask)
    want_masked = want_masked if isinstance(want_masked, (list, tuple)) else [want_masked]
    got_masked = got_masked if isinstance(got_masked, (list, tuple)) else [got_masked]
    for g, w in zip(got_masked, want_masked):
        np.testing.assert_allclose(to_numpy(g), np.asarray(w), rtol=1e-5, atol=2e-5)


def test_bidirectional_matches_keras():
    keras = pytest.importorskip("keras")
    x = data(8)
    theirs = keras.layers.Bidirectional(keras.layers.GRU(4, return_sequences=True), merge_mode="ave")
    want = np.asarray(theirs(x))
    ours = Bidirectional(GRU(4, return_sequences=True), merge_mode="ave")
    ours(x)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(to_numpy(ours(x)), want, rtol=1e-5, atol=2e-5)


# ------------------------------------------------- configs, shapes, errors


@pytest.mark.parametrize("make", [
    lambda: LSTM(3, activation="relu", recurrent_dropout=0.1, return_sequences=True, unit_forget_bias=False,
                 kernel_regularizer="l2", go_backwards=True, stateful=False, use_cudnn=False, name="enc"),
    lambda: GRU(2, reset_after=False, dropout=0.2, seed=4, return_state=True, bias_constraint="non_neg"),
    lambda: SimpleRNN(5, activation="relu", use_bias=False, recurrent_initializer="glorot_uniform"),
    lambda: RNN(LSTMCell(3), return_sequences=True, zero_output_for_mask=True),
    lambda: Bidirectional(SimpleRNN(2), merge_mode="sum"),
    lambda: TimeDistributed(Dense(3, activation="relu")),
    lambda: LSTMCell(3, dropout=0.5),
    lambda: GRUCell(3, reset_after=False),
], ids=["lstm", "gru", "simple_rnn", "rnn", "bidirectional", "time_distributed", "lstm_cell", "gru_cell"])
def test_config_round_trip(make):
    import json

    layer = make()
    config = layer.get_config()
    json.dumps(config)
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    restored = hl.layers.deserialize(json.loads(json.dumps(hl.layers.serialize(layer))))
    assert type(restored) is type(layer) and restored.get_config() == config


def test_functional_shape_inference():
    inputs = hl.Input((None, F))
    seq = LSTM(U, return_sequences=True)(inputs)
    assert seq.shape == (None, None, U)
    out, h, c = LSTM(4, return_state=True)(seq)
    assert out.shape == (None, 4) and h.shape == (None, 4) and c.shape == (None, 4)
    both = Bidirectional(GRU(2, return_sequences=True))(seq)
    assert both.shape == (None, None, 4)
    model = hl.Model(inputs, [out, both])
    outputs = model(data())
    assert ops.shape(outputs[0]) == (B, 4) and ops.shape(outputs[1]) == (B, T, 4)


def test_argument_and_rank_errors():
    with pytest.raises(ValueError, match="units must be a positive integer"):
        LSTM(0)
    with pytest.raises(ValueError, match="dropout must be a float in"):
        GRU(3, dropout=1.5)
    with pytest.raises(ValueError, match="use_cudnn"):
        LSTM(3, use_cudnn="yes")
    with pytest.raises(ValueError, match="unknown activation"):
        SimpleRNN(3, activation="nope")
    with pytest.raises(ValueError, match="state_size"):
        RNN(Dense(3))
    layer = LSTM(3, name="seq")
    with pytest.raises(ValueError) as info:
        layer(np.ones((2, 4), np.float32))
    assert '"seq"' in str(info.value) and "ndim=3" in str(info.value) and "(2, 4)" in str(info.value)
    layer(np.ones((2, 4, 5), np.float32))
    with pytest.raises(ValueError, match="value 5"):
        layer(np.ones((2, 4, 6), np.float32))
    with pytest.raises(ValueError, match=r"mask must have shape \(batch, steps\)"):
        layer(np.ones((2, 4, 5), np.float32), mask=np.ones((2, 3), bool))


# ------------------------------------------------------------------ training


def test_regularizer_penalty_and_constraint():
    layer = GRU(U, kernel_regularizer=hl.regularizers.L2(0.1), recurrent_constraint="non_neg")
    layer(data())
    (penalty,) = layer.losses
    np.testing.assert_allclose(float(to_numpy(penalty)), 0.1 * np.sum(layer.get_weights()[0] ** 2), rtol=1e-5)
    assert layer.cell.recurrent_kernel.constraint is not None


@pytest.mark.parametrize("cls", [LSTM, GRU, SimpleRNN])
def test_small_model_trains_with_fit(cls):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 6, 3)).astype(np.float32)
    y = (x[:, :, 0].sum(axis=1) > 0).astype(np.float32)[:, None]   # the sign of a running sum
    model = hl.Sequential([hl.Input((6, 3)), cls(8), Dense(1, activation="sigmoid")])
    model.compile(optimizer=hl.optimizers.Adam(0.02), loss="binary_crossentropy")
    history = model.fit(x, y, epochs=6, batch_size=32, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.8 * losses[0], losses
