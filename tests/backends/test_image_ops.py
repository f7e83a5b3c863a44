"""The image ops ``resize`` and ``affine_transform`` against NumPy loops written here.

They sit outside the op table (``op_table.IMAGE_OPS``): their references are loops over
output pixels that follow TensorFlow's kernels (``ResizeBilinear``/``ResizeNearestNeighbor``
with half-pixel centers, ``ImageProjectiveTransformV3``) line by line. Each op runs natively
and as the protocol's composite built on the backend, compiled, and through
``value_and_grad`` (gradients in the images vs the NumPy reference's linear map).
"""

import math

import numpy as np
import pytest

from highlevel.backends import build_composite
from highlevel.backends.protocol import InvalidArgumentError

FILL_MODES = ("reflect", "wrap", "constant", "nearest")


# ------------------------------------------------------------------ NumPy references


def reference_resize(images, size, interpolation):
    images = np.asarray(images, np.float64)
    n, h, w, c = images.shape
    oh, ow = size
    out = np.zeros((n, oh, ow, c))
    sy, sx = np.float32(h) / np.float32(oh), np.float32(w) / np.float32(ow)
    for i in range(oh):
        for j in range(ow):
            if interpolation == "nearest":
                y = min(int(math.floor((i + 0.5) * sy)), h - 1)
                x = min(int(math.floor((j + 0.5) * sx)), w - 1)
                out[:, i, j] = images[:, y, x]
                continue
            fy, fx = (i + 0.5) * sy - 0.5, (j + 0.5) * sx - 0.5
            y0, x0 = math.floor(fy), math.floor(fx)
            ly, lx = fy - y0, fx - x0
            ya, yb = max(y0, 0), min(math.ceil(fy), h - 1)
            xa, xb = max(x0, 0), min(math.ceil(fx), w - 1)
            top = images[:, ya, xa] + (images[:, ya, xb] - images[:, ya, xa]) * lx
            bottom = images[:, yb, xa] + (images[:, yb, xb] - images[:, yb, xa]) * lx
            out[:, i, j] = top + (bottom - top) * ly
    return out


def map_coordinate(v, length, mode):
    if mode == "constant":
        return v
    if mode == "nearest" or length <= 1:
        return min(max(v, 0.0), length - 1.0)
    if mode == "reflect":
        if v < 0:
            sz2 = 2 * length
            v = sz2 * int(-v / sz2) + v
            v = v + sz2 if v < -length else -v - 1
        elif v > length - 1:
            sz2 = 2 * length
            v -= sz2 * int(v / sz2)
            if v >= length:
                v = sz2 - v - 1
    else:  # wrap
        if v < 0:
            v += length * (int(-v / (length - 1)) + 1)
        elif v > length - 1:
            v -= length * int(v / (length - 1))
    return min(max(v, 0.0), length - 1.0)


def reference_affine(images, transforms, interpolation, fill_mode, fill_value):
    images = np.asarray(images, np.float64)
    n, h, w, c = images.shape
    # Coordinates in float32, in TensorFlow's order of operations (nearest sampling rounds them).
    transforms = np.broadcast_to(np.asarray(transforms, np.float32).reshape(-1, 8), (n, 8))
    out = np.zeros_like(images)

    def read(b, y, x):
        if 0 <= y < h and 0 <= x < w:
            return images[b, int(y), int(x)]
        return np.full(c, fill_value)

    for b in range(n):
        a0, a1, a2, b0, b1, b2, c0, c1 = transforms[b]
        for i in range(h):
            for j in range(w):
                fj, fi = np.float32(j), np.float32(i)
                k = c0 * fj + c1 * fi + np.float32(1)
                x = map_coordinate(float((a0 * fj + a1 * fi + a2) / k), w, fill_mode)
                y = map_coordinate(float((b0 * fj + b1 * fi + b2) / k), h, fill_mode)
                if interpolation == "nearest":
                    rnd = lambda v: math.copysign(math.floor(abs(v) + 0.5), v)  # noqa: E731
                    out[b, i, j] = read(b, rnd(y), rnd(x))
                    continue
                y0, x0 = math.floor(y), math.floor(x)
                y1, x1 = y0 + 1, x0 + 1
                top = (x1 - x) * read(b, y0, x0) + (x - x0) * read(b, y0, x1)
                bottom = (x1 - x) * read(b, y1, x0) + (x - x0) * read(b, y1, x1)
                out[b, i, j] = (y1 - y) * top + (y - y0) * bottom
    return out


def transforms_for(n):
    th = 0.5
    base = [[math.cos(th), -math.sin(th), 2.3, math.sin(th), math.cos(th), -1.7, 0.0, 0.0],
            [1.4, 0.2, -5.5, -0.3, 0.7, 9.25, 0.01, -0.02],
            [1.0, 0.0, 13.5, 0.0, 1.0, -11.0, 0.0, 0.0]]
    return np.array(base[:n], dtype=np.float32)


# ------------------------------------------------------------------------- tests


def variants(backend, op):
    return [("native", getattr(backend, op)), ("composite", build_composite(backend, op))]


@pytest.mark.parametrize("size", [(10, 14), (3, 4), (5, 9), (1, 1)])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_resize_matches_reference(backend, size, interpolation):
    x = np.random.default_rng(0).normal(size=(2, 5, 7, 3)).astype(np.float32)
    expected = reference_resize(x, size, interpolation)
    for name, resize in variants(backend, "resize"):
        out = backend.convert_to_numpy(resize(x, size, interpolation))
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5, err_msg=name)
        unbatched = backend.convert_to_numpy(resize(x[0], size, interpolation))
        np.testing.assert_allclose(unbatched, expected[0], rtol=1e-5, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("fill_mode", FILL_MODES)
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_affine_transform_matches_reference(backend, fill_mode, interpolation):
    x = np.random.default_rng(1).normal(size=(3, 6, 8, 2)).astype(np.float32)
    t = transforms_for(3)
    expected = reference_affine(x, t, interpolation, fill_mode, 0.25)
    for name, op in variants(backend, "affine_transform"):
        out = backend.convert_to_numpy(op(x, t, interpolation, fill_mode, 0.25))
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4, err_msg=f"{name} {fill_mode}")
    single = backend.convert_to_numpy(backend.affine_transform(x[1], t[1], interpolation, fill_mode, 0.25))
    np.testing.assert_allclose(single, expected[1], rtol=1e-4, atol=1e-4)


def test_image_ops_compiled_equal_eager(backend):
    x = np.random.default_rng(2).normal(size=(2, 6, 8, 2)).astype(np.float32)
    t = transforms_for(2)

    def both(images):
        return backend.resize(images, (4, 11)), backend.affine_transform(images, t, "bilinear", "reflect")

    compiled = backend.compile_function(both)
    for eager, graph in zip(both(backend.convert_to_tensor(x)), compiled(backend.convert_to_tensor(x))):
        np.testing.assert_allclose(backend.convert_to_numpy(graph), backend.convert_to_numpy(eager), rtol=1e-6,
                                   atol=1e-6)


def linear_map(fn, shape):
    """The matrix of a linear NumPy function of an array of ``shape`` (column i: fn(e_i))."""
    size = int(np.prod(shape))
    columns = []
    for i in range(size):
        e = np.zeros(size)
        e[i] = 1.0
        columns.append(fn(e.reshape(shape)).reshape(-1))
    return np.stack(columns, axis=1)


@pytest.mark.parametrize("op", ["resize", "affine_transform"])
def test_image_op_gradients_match_reference(backend, op):
    shape = (2, 4, 5, 1)
    x = np.random.default_rng(3).normal(size=shape).astype(np.float32)
    t = transforms_for(2)
    if op == "resize":
        ref_fn = lambda im: reference_resize(im, (6, 3), "bilinear")  # noqa: E731
        call = lambda k, im: k.resize(im, (6, 3), "bilinear")  # noqa: E731
    else:
        ref_fn = lambda im: reference_affine(im, t, "bilinear", "reflect", 0.0)  # noqa: E731
        call = lambda k, im: k.affine_transform(im, t, "bilinear", "reflect", 0.0)  # noqa: E731
    matrix = linear_map(ref_fn, shape)
    weights = np.random.default_rng(4).normal(size=matrix.shape[0]).astype(np.float32)
    expected = (weights @ matrix).reshape(shape)  # d sum(w * f(x)) / dx
    for name, fn in variants(backend, op):
        variable = backend.Variable(x)
        k = type("K", (), {op: staticmethod(fn)})

        def loss():
            out = call(k, variable.value)
            return backend.sum(backend.multiply(backend.reshape(out, (-1,)), weights))

        value, (grad,) = backend.value_and_grad(loss, [variable])
        np.testing.assert_allclose(float(backend.convert_to_numpy(value)), float(weights @ matrix @ x.reshape(-1)),
                                   rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(backend.convert_to_numpy(grad), expected, rtol=1e-4, atol=1e-4, err_msg=name)


@pytest.mark.parametrize("op, args, shows", [
    ("resize", (np.zeros((4, 4)), (2, 2)), "rank 3"),
    ("resize", (np.zeros((1, 4, 4, 1)), (2, 0)), "size"),
    ("resize", (np.zeros((1, 4, 4, 1)), (2, 2), "bicubic"), "interpolation"),
    ("affine_transform", (np.zeros((1, 4, 4, 1)), np.zeros((2, 8))), "transform"),
    ("affine_transform", (np.zeros((1, 4, 4, 1)), np.zeros(8), "bilinear", "mirror"), "fill_mode"),
    ("affine_transform", (np.zeros((1, 4, 4, 1)), np.zeros(8), "area"), "interpolation"),
])
def test_image_ops_bad_input(backend, op, args, shows):
    for name, fn in variants(backend, op):
        with pytest.raises(InvalidArgumentError, match=shows):
            fn(*args)
