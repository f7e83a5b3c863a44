"""Gradients of every differentiable op of the table.

The objective is ``sum(op(vars...) * cotangent)`` (summed over the float outputs of
multi-output ops), differentiated with ``value_and_grad`` over ``Variable``s:

* on the backend under test in float32, against the NumPy reference in float64;
* on the NumPy reference in float64, against central finite differences.

Inputs in the table sit away from kinks and ties; variants on a kink on purpose
(``fd=False``) are only compared with the reference, whose convention the contract
fixes (ties in maximum go to x1, max shares ties, clip includes its bounds).
"""

import numpy as np
import pytest

from conformance_utils import assert_close, rng_for, to_numpy
from op_table import expected_of, grad_cases

GRAD_CASES = grad_cases()
FLOATS = ("float16", "bfloat16", "float32", "float64")


def cotangents(case):
    """One random float64 array per float output of the case (None for integer outputs)."""
    expected = expected_of(case.id)
    outs = expected if isinstance(case.dtype, tuple) else [expected]
    dtypes = case.dtype if isinstance(case.dtype, tuple) else (case.dtype,)
    rng = rng_for(case.id)
    return [rng.uniform(-1.0, 1.0, np.shape(o)) if d in FLOATS else None for o, d in zip(outs, dtypes)]


def objective(k, case, args, cots):
    """``fn()`` for value_and_grad: sum(op(*args) * cotangent) over the float outputs."""
    def fn():
        out = getattr(k, case.op)(*args, **case.kwargs)
        outs = out if isinstance(case.dtype, tuple) else [out]
        total = None
        for o, c in zip(outs, cots):
            if c is not None:
                term = k.sum(k.multiply(o, c))
                total = term if total is None else k.add(total, term)
        return total
    return fn


def gradients(k, case, dtype, compiled=False):
    """``(value, grads, variables)`` of the case's objective with float leaves in ``dtype``.

    ``compiled``: run ``value_and_grad`` inside ``k.compile_function`` (variables and
    constants created outside it, as a trainer does).
    """
    targets = case.float_leaves()
    variables = [k.Variable(a.astype(dtype), dtype=dtype) for _, a in targets]
    replace = {path: v for (path, _), v in zip(targets, variables)}
    for path, a in case.leaves():
        if path not in replace:
            replace[path] = k.convert_to_tensor(a.astype(dtype) if a.dtype.kind == "f" else a)
    args = case.with_leaves(replace)
    cots = [None if c is None else k.convert_to_tensor(c.astype(dtype)) for c in cotangents(case)]
    fn = objective(k, case, args, cots)
    if compiled:
        value, grads = k.compile_function(lambda: k.value_and_grad(fn, variables))()
    else:
        value, grads = k.value_and_grad(fn, variables)
    return value, list(grads), variables


def grad_tolerance(case):
    return dict(rtol=case.grad_tol.get("rtol", case.rtol), atol=case.grad_tol.get("atol", case.atol))


@pytest.mark.parametrize("case", GRAD_CASES, ids=lambda c: c.id)
def test_gradient_matches_reference(backend, ref, case):
    value, grads, variables = gradients(backend, case, "float32")
    _, ref_grads, _ = gradients(ref, case, "float64")
    assert len(grads) == len(variables)
    tol = grad_tolerance(case)
    for i, (g, v, rg) in enumerate(zip(grads, variables, ref_grads)):
        what = f"{case.id}: gradient {i}"
        assert backend.dtype(g) == "float32", f"{what}: dtype {backend.dtype(g)}"
        assert backend.shape(g) == v.shape, f"{what}: shape {backend.shape(g)}, variable {v.shape}"
        assert_close(to_numpy(backend, g), to_numpy(ref, rg), what=what, **tol)
    # The value against the table's float64 expression: sum(expected * cotangent).
    expected = expected_of(case.id)
    outs = expected if isinstance(case.dtype, tuple) else [expected]
    cots = cotangents(case)
    expected_value = sum(np.sum(np.asarray(o, np.float64) * c) for o, c in zip(outs, cots) if c is not None)
    count = sum(np.size(c) for c in cots if c is not None)
    assert_close(to_numpy(backend, value), expected_value, rtol=tol["rtol"], atol=tol["atol"] * max(1, count),
                 what=f"{case.id}: value")


def finite_differences(ref, case, path, cots):
    """Central differences of the objective w.r.t. the leaf at ``path``, in float64."""
    base = {p: (a.astype(np.float64) if a.dtype.kind == "f" else a) for p, a in case.leaves()}
    op = getattr(ref, case.op)

    def f(x):
        out = op(*case.with_leaves({**base, path: x}), **case.kwargs)
        outs = out if isinstance(case.dtype, tuple) else [out]
        return sum(float(np.sum(np.asarray(ref.convert_to_numpy(o), np.float64) * c))
                   for o, c in zip(outs, cots) if c is not None)

    x = base[path]
    numeric = np.zeros_like(x)
    for index in np.ndindex(*x.shape):
        h = 1e-6 * max(1.0, abs(x[index]))
        up, down = x.copy(), x.copy()
        up[index] += h
        down[index] -= h
        numeric[index] = (f(up) - f(down)) / (2 * h)
    return numeric


FD_CASES = [c for c in GRAD_CASES if c.fd]


@pytest.mark.parametrize("case", FD_CASES, ids=lambda c: c.id)
def test_reference_gradient_matches_finite_differences(ref, case):
    _, grads, _ = gradients(ref, case, "float64")
    cots = cotangents(case)
    for i, ((path, _), g) in enumerate(zip(case.float_leaves(), grads)):
        assert ref.dtype(g) == "float64"
        assert_close(to_numpy(ref, g), finite_differences(ref, case, path, cots), rtol=1e-6, atol=1e-7,
                     what=f"{case.id}: gradient {i} vs finite differences")
