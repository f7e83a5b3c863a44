"""The contract's composite ops (``protocol.COMPOSITES``), built on the backend under test.

The loader installs a composite for every such op a backend leaves out, so a new
backend may rely on them. Here each composite is built from the backend's own
namespace and run through the same table as the native op: forward values, gradients
against the NumPy reference, and the bad-input cases of that op.
"""

import types

import numpy as np
import pytest

from highlevel.backends import build_composite, protocol
from highlevel.backends.protocol import InvalidArgumentError
from op_table import CASES, IMAGE_OPS, NORMALIZATION_OPS, RECURRENT_OPS, STATEFUL_OPS, grad_cases
from test_errors import BAD
from test_forward import call, check_result
from test_gradients import gradients, grad_tolerance
from conformance_utils import assert_close, to_numpy


def with_composite(k, op):
    """A copy of namespace ``k`` whose ``op`` is the contract's composite built on ``k``."""
    namespace = types.SimpleNamespace(**vars(k))
    setattr(namespace, op, build_composite(k, op))
    return namespace


COMPOSITE_CASES = [c for c in CASES if c.op in protocol.COMPOSITES]
COMPOSITE_GRAD_CASES = [c for c in grad_cases() if c.op in protocol.COMPOSITES]
COMPOSITE_BAD = [b for b in BAD if b[0] in protocol.COMPOSITES]


@pytest.mark.parametrize("case", COMPOSITE_CASES, ids=lambda c: c.id)
def test_composite_forward(backend, case):
    k = with_composite(backend, case.op)
    check_result(k, case, call(k, case))


@pytest.mark.parametrize("case", COMPOSITE_GRAD_CASES, ids=lambda c: c.id)
def test_composite_gradient_matches_reference(backend, ref, case):
    k = with_composite(backend, case.op)
    _, grads, variables = gradients(k, case, "float32")
    _, ref_grads, _ = gradients(ref, case, "float64")
    for i, (g, rg) in enumerate(zip(grads, ref_grads)):
        assert_close(to_numpy(backend, g), to_numpy(ref, rg), what=f"{case.id}: gradient {i}", **grad_tolerance(case))


@pytest.mark.parametrize("op, variant, args, kwargs, shows", COMPOSITE_BAD,
                         ids=[f"{b[0]}-{b[1]}" for b in COMPOSITE_BAD])
def test_composite_bad_input(backend, op, variant, args, kwargs, shows):
    from test_errors import test_bad_input_raises_invalid_argument

    test_bad_input_raises_invalid_argument(with_composite(backend, op), op, variant, args, kwargs, shows)


def test_every_composite_has_cases():
    # dropout: below; the fused optimizer steps: test_optimizer_ops.py.
    assert sorted(set(protocol.COMPOSITES) - {c.op for c in CASES} - {"dropout"} - set(STATEFUL_OPS)
                  - set(RECURRENT_OPS) - set(IMAGE_OPS) - set(NORMALIZATION_OPS)) == []


def test_composite_dropout(backend):
    k = with_composite(backend, "dropout")
    out = to_numpy(backend, k.dropout(backend.ones((200, 50)), 0.25, seed=3))
    assert np.all((out == 0) | np.isclose(out, 1 / 0.75, rtol=1e-6))
    assert abs(np.mean(out == 0) - 0.25) < 0.03
    with pytest.raises(InvalidArgumentError, match="dropout"):
        k.dropout(backend.ones((2,)), 1.0)
