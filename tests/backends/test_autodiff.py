"""``value_and_grad``, ``stop_gradient`` and ``compile_function`` behaviour.

Expected gradients are closed forms or a manual NumPy backprop, never another
backend's autodiff.
"""

import inspect

import numpy as np
import pytest

from conformance_utils import TOL, assert_close, rng_for, to_numpy


def arr(*values):
    return np.array(values, np.float32)


# ------------------------------------------------------------------ value_and_grad


def test_value_and_grad_basic(backend):
    k = backend
    v = k.Variable(arr(1.0, -2.0, 3.0))
    value, grads = k.value_and_grad(lambda: k.sum(k.multiply(v, v)), [v])
    assert isinstance(grads, list) and len(grads) == 1
    assert k.is_tensor(value) and k.shape(value) == () and k.dtype(value) == "float32"
    assert_close(to_numpy(k, value), 14.0, **TOL)
    assert_close(to_numpy(k, grads[0]), [2.0, -4.0, 6.0], **TOL)
    assert k.dtype(grads[0]) == "float32"


def test_value_and_grad_leaves_variables_unchanged(backend):
    k = backend
    v = k.Variable(arr(0.5, 1.5))
    k.value_and_grad(lambda: k.sum(k.exp(v)), [v])
    assert_close(v.numpy(), [0.5, 1.5], rtol=0, atol=0)


def test_has_aux(backend):
    k = backend
    v = k.Variable(arr(1.0, 2.0))
    w = k.Variable(arr(3.0))

    def fn():
        prediction = k.multiply(v, w)
        return k.sum(k.square(prediction)), (prediction, "label")

    (value, aux), grads = k.value_and_grad(fn, [v, w], has_aux=True)
    prediction, label = aux
    assert label == "label"
    assert_close(to_numpy(k, prediction), [3.0, 6.0], **TOL)
    assert_close(to_numpy(k, value), 45.0, **TOL)
    # d/dv sum((v w)^2) = 2 v w^2 ; d/dw = 2 w sum(v^2)
    assert_close(to_numpy(k, grads[0]), [18.0, 36.0], **TOL)
    assert_close(to_numpy(k, grads[1]), [30.0], **TOL)


def test_unused_variables_get_zeros(backend):
    k = backend
    v = k.Variable(arr(1.0, 2.0))
    unused = k.Variable(np.ones((2, 3), np.float32))
    unused64 = k.Variable(np.ones(4), dtype="float64")
    value, grads = k.value_and_grad(lambda: k.sum(k.multiply(v, 3.0)), [unused, v, unused64])
    assert len(grads) == 3
    assert_close(to_numpy(k, grads[1]), [3.0, 3.0], **TOL)
    for g, var in ((grads[0], unused), (grads[2], unused64)):
        assert k.shape(g) == var.shape and k.dtype(g) == var.dtype
        assert_close(to_numpy(k, g), np.zeros(var.shape), rtol=0, atol=0)


def test_loss_independent_of_every_variable(backend):
    k = backend
    v = k.Variable(arr(1.0, 2.0))
    value, grads = k.value_and_grad(lambda: k.sum(k.convert_to_tensor(arr(1.0, 2.0))), [v])
    assert_close(to_numpy(k, value), 3.0, **TOL)
    assert_close(to_numpy(k, grads[0]), [0.0, 0.0], rtol=0, atol=0)


def test_reused_tensors_accumulate(backend):
    k = backend
    x = arr(0.5, -1.0, 2.0)
    v = k.Variable(x)

    def fn():
        h = k.multiply(v, 2.0)  # h used three times, v twice more
        return k.add(k.sum(k.add(k.multiply(h, h), h)), k.sum(k.multiply(v, v)))

    value, (g,) = k.value_and_grad(fn, [v])
    h = 2 * x.astype(np.float64)
    assert_close(to_numpy(k, value), np.sum(h * h + h) + np.sum(x.astype(np.float64) ** 2), **TOL)
    assert_close(to_numpy(k, g), (2 * h + 1) * 2 + 2 * x, **TOL)


def test_same_variable_listed_twice(backend):
    k = backend
    v = k.Variable(arr(1.0, 2.0))
    _, grads = k.value_and_grad(lambda: k.sum(k.square(v)), [v, v])
    for g in grads:
        assert_close(to_numpy(k, g), [2.0, 4.0], **TOL)


def test_broadcast_gradients_reduce_to_variable_shape(backend):
    k = backend
    rng = rng_for("broadcast-grad")
    x = rng.normal(size=(4, 3)).astype(np.float32)
    b = k.Variable(rng.normal(size=(3,)).astype(np.float32))
    s = k.Variable(rng.normal(size=(4, 1)).astype(np.float32))
    c = k.Variable(np.float32(1.5))

    def fn():
        y = k.multiply(k.add(x, b), s)  # (4, 3) + (3,) then * (4, 1)
        return k.sum(k.square(k.add(y, c)))

    _, (gb, gs, gc) = k.value_and_grad(fn, [b, s, c])
    x64 = x.astype(np.float64)
    b64, s64, c64 = (np.asarray(var.numpy(), np.float64) for var in (b, s, c))
    r = 2 * ((x64 + b64) * s64 + c64)  # d loss / d y
    assert k.shape(gb) == (3,) and k.shape(gs) == (4, 1) and k.shape(gc) == ()
    assert_close(to_numpy(k, gb), np.sum(r * s64, axis=0), **TOL)
    assert_close(to_numpy(k, gs), np.sum(r * (x64 + b64), axis=1, keepdims=True), **TOL)
    assert_close(to_numpy(k, gc), np.sum(r), rtol=1e-5, atol=1e-5)


def test_variables_of_other_dtypes(backend):
    k = backend
    v = k.Variable(np.array([1.0, 2.0]), dtype="float64")
    value, (g,) = k.value_and_grad(lambda: k.sum(k.multiply(v, v)), [v])
    assert k.dtype(g) == "float64" and k.dtype(value) == "float64"
    assert_close(to_numpy(k, g), [2.0, 4.0], rtol=1e-12, atol=0)


def test_nested_value_and_grad_other_variables(backend):
    k = backend
    v = k.Variable(arr(1.0, 2.0))
    w = k.Variable(arr(-1.0, 0.5, 3.0))
    seen = {}

    def outer():
        inner_value, (gw,) = k.value_and_grad(lambda: k.sum(k.power(w, 3.0)), [w])
        seen["value"], seen["grad"] = to_numpy(k, inner_value), to_numpy(k, gw)
        return k.add(k.sum(k.multiply(v, 3.0)), k.sum(w))

    value, (gv, gw) = k.value_and_grad(outer, [v, w])
    assert_close(seen["value"], -1 + 0.125 + 27, **TOL)
    assert_close(seen["grad"], 3 * np.array([1.0, 0.25, 9.0]), **TOL)
    assert_close(to_numpy(k, value), 9.0 + 2.5, **TOL)
    assert_close(to_numpy(k, gv), [3.0, 3.0], **TOL)
    assert_close(to_numpy(k, gw), [1.0, 1.0, 1.0], **TOL)


def test_nested_value_and_grad_same_variable(backend):
    k = backend
    x = arr(1.0, -2.0)
    v = k.Variable(x)
    seen = {}

    def outer():
        _, (g,) = k.value_and_grad(lambda: k.sum(k.power(v, 3.0)), [v])
        seen["inner"] = to_numpy(k, g)
        # Use the inner gradient as a constant (first order only).
        return k.sum(k.multiply(k.square(v), seen["inner"]))

    value, (g,) = k.value_and_grad(outer, [v])
    inner = 3 * x.astype(np.float64) ** 2
    assert_close(seen["inner"], inner, **TOL)
    assert_close(to_numpy(k, value), np.sum(x ** 2 * inner), **TOL)
    assert_close(to_numpy(k, g), 2 * x * inner, **TOL)


def test_value_and_grad_after_assign_uses_new_value(backend):
    k = backend
    v = k.Variable(arr(1.0, 2.0))
    fn = lambda: k.sum(k.square(v))  # noqa: E731
    k.value_and_grad(fn, [v])
    v.assign(arr(3.0, -1.0))
    value, (g,) = k.value_and_grad(fn, [v])
    assert_close(to_numpy(k, value), 10.0, **TOL)
    assert_close(to_numpy(k, g), [6.0, -2.0], **TOL)


def test_mlp_gradients_match_manual_backprop(backend):
    """A 5-6-3 tanh MLP with softmax cross-entropy, against hand-written backprop in float64."""
    k = backend
    rng = rng_for("mlp")
    n = 8
    x = rng.normal(size=(n, 5)).astype(np.float32)
    y = rng.integers(0, 3, n).astype(np.int32)
    init = [rng.normal(size=s).astype(np.float32) * 0.5 for s in ((5, 6), (6,), (6, 3), (3,))]
    w1, b1, w2, b2 = (k.Variable(a) for a in init)

    def loss():
        h = k.tanh(k.add(k.matmul(x, w1), b1))
        logits = k.add(k.matmul(h, w2), b2)
        return k.mean(k.sparse_categorical_crossentropy(y, logits, from_logits=True))

    value, grads = k.value_and_grad(loss, [w1, b1, w2, b2])

    W1, B1, W2, B2 = (a.astype(np.float64) for a in init)
    X = x.astype(np.float64)
    h = np.tanh(X @ W1 + B1)
    logits = h @ W2 + B2
    shifted = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    onehot = np.eye(3)[y]
    expected_loss = -np.mean(np.sum(onehot * np.log(p), axis=1))
    d_logits = (p - onehot) / n
    d_h = d_logits @ W2.T
    d_pre = d_h * (1 - h ** 2)
    expected = [X.T @ d_pre, d_pre.sum(0), h.T @ d_logits, d_logits.sum(0)]

    assert_close(to_numpy(k, value), expected_loss, **TOL)
    for g, e, name in zip(grads, expected, ("w1", "b1", "w2", "b2")):
        assert_close(to_numpy(k, g), e, rtol=1e-4, atol=1e-6, what=name)


def test_gradient_through_python_operators(backend):
    k = backend
    x = arr(0.5, -1.0, 2.0)
    m = np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 1.0]], np.float32)
    v = k.Variable(x)

    def fn():
        y = (v * 2.0 + 1.0) ** 2 - v / 4.0  # elementwise through the operators
        return k.sum(y) + k.sum(v @ m) + v[2] * 3.0 - k.sum(-v)

    value, (g,) = k.value_and_grad(fn, [v])
    x64 = x.astype(np.float64)
    expected_value = np.sum((2 * x64 + 1) ** 2 - x64 / 4) + np.sum(x64 @ m) + 3 * x64[2] + np.sum(x64)
    expected = 4 * (2 * x64 + 1) - 0.25 + m.sum(1) + np.array([0.0, 0.0, 3.0]) + 1.0
    assert_close(to_numpy(k, value), expected_value, **TOL)
    assert_close(to_numpy(k, g), expected, **TOL)


def test_gradient_through_integer_indexing(backend):
    k = backend
    v = k.Variable(arr(1.0, 2.0, 3.0, 4.0))
    idx = np.array([3, 0, 3], np.int32)
    _, (g,) = k.value_and_grad(lambda: k.sum(k.multiply(k.take(v, idx), arr(1.0, 2.0, 3.0))), [v])
    assert_close(to_numpy(k, g), [2.0, 0.0, 0.0, 4.0], **TOL)


def test_cast_is_differentiable_between_floats(backend):
    k = backend
    v = k.Variable(arr(1.0, 2.0))
    _, (g,) = k.value_and_grad(lambda: k.sum(k.cast(k.multiply(k.cast(v, "float64"), 3.0), "float32")), [v])
    assert k.dtype(g) == "float32"
    assert_close(to_numpy(k, g), [3.0, 3.0], **TOL)


# ------------------------------------------------------------------- stop_gradient


def test_stop_gradient_blocks_one_path(backend):
    k = backend
    x = arr(1.0, -2.0, 0.5)
    v = k.Variable(x)
    value, (g,) = k.value_and_grad(lambda: k.sum(k.multiply(k.stop_gradient(v), v)), [v])
    assert_close(to_numpy(k, value), np.sum(x * x), **TOL)
    assert_close(to_numpy(k, g), x, **TOL)  # not 2x


def test_stop_gradient_blocks_every_path(backend):
    k = backend
    v = k.Variable(arr(1.0, -2.0))
    _, (g,) = k.value_and_grad(lambda: k.sum(k.stop_gradient(k.square(v))), [v])
    assert_close(to_numpy(k, g), [0.0, 0.0], rtol=0, atol=0)


def test_stop_gradient_outside_value_and_grad(backend):
    k = backend
    x = k.convert_to_tensor(arr(1.0, 2.0))
    out = k.stop_gradient(x)
    assert k.is_tensor(out) and k.dtype(out) == "float32"
    assert_close(to_numpy(k, out), [1.0, 2.0], rtol=0, atol=0)


# ---------------------------------------------------------------- compile_function


def test_compile_function_default_is_not_jit(backend):
    assert inspect.signature(backend.compile_function).parameters["jit_compile"].default is False


@pytest.mark.parametrize("jit", [None, False])
def test_compiled_function_matches_eager(backend, jit):
    k = backend
    rng = rng_for("compile")

    def fn(x, w):
        return k.add(k.tanh(k.matmul(x, w)), k.sum(w, axis=0))

    compiled = k.compile_function(fn) if jit is None else k.compile_function(fn, jit_compile=jit)
    for _ in range(3):  # repeated calls, fresh inputs each time
        x = rng.normal(size=(4, 3)).astype(np.float32)
        w = rng.normal(size=(3, 2)).astype(np.float32)
        eager = to_numpy(k, fn(k.convert_to_tensor(x), k.convert_to_tensor(w)))
        assert_close(to_numpy(k, compiled(k.convert_to_tensor(x), k.convert_to_tensor(w))), eager, **TOL)
    expected = np.tanh(x.astype(np.float64) @ w) + w.sum(0)
    assert_close(eager, expected, **TOL)


def test_compiled_function_returns_structures(backend):
    k = backend
    compiled = k.compile_function(lambda x: (k.sum(x), {"double": k.multiply(x, 2.0)}))
    total, extra = compiled(k.convert_to_tensor(arr(1.0, 2.0)))
    assert_close(to_numpy(k, total), 3.0, **TOL)
    assert_close(to_numpy(k, extra["double"]), [2.0, 4.0], **TOL)


def _train(k, compiled):
    """Three SGD steps of a linear regression; returns the losses and the final weights."""
    rng = rng_for("train-step")
    x = rng.normal(size=(6, 3)).astype(np.float32)
    y = rng.normal(size=(6, 1)).astype(np.float32)
    w = k.Variable(np.zeros((3, 1), np.float32))
    b = k.Variable(np.zeros((1,), np.float32))

    def step(x, y):
        loss, grads = k.value_and_grad(lambda: k.mean(k.square(k.subtract(k.add(k.matmul(x, w), b), y))), [w, b])
        w.assign_sub(k.multiply(grads[0], 0.1))
        b.assign_sub(k.multiply(grads[1], 0.1))
        return loss

    run = k.compile_function(step) if compiled else step
    losses = [float(to_numpy(k, run(k.convert_to_tensor(x), k.convert_to_tensor(y)))) for _ in range(3)]
    return losses, w.numpy(), b.numpy(), (x, y)


def test_compiled_train_step_matches_eager(backend):
    k = backend
    eager_losses, eager_w, eager_b, (x, y) = _train(k, compiled=False)
    losses, w, b, _ = _train(k, compiled=True)
    assert_close(losses, eager_losses, **TOL)
    assert_close(w, eager_w, **TOL)
    assert_close(b, eager_b, **TOL)
    # And both against the same loop in NumPy.
    W, B = np.zeros((3, 1)), np.zeros(1)
    X, Y = x.astype(np.float64), y.astype(np.float64)
    expected = []
    for _ in range(3):
        r = X @ W + B - Y
        expected.append(np.mean(r ** 2))
        W, B = W - 0.1 * 2 * X.T @ r / r.size, B - 0.1 * 2 * r.sum(0) / r.size
    assert_close(losses, expected, **TOL)
    assert_close(w, W, **TOL)
