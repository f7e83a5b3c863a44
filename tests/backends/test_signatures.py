"""The backend module meets the contract: every op, exact signatures, every service."""

import inspect

import pytest

from highlevel.backends import check_module, protocol


def test_module_matches_protocol(backend):
    assert check_module(backend.module) == []


@pytest.mark.parametrize("name", list(protocol.OPS))
def test_op_is_on_namespace(backend, name):
    fn = getattr(backend, name, None)
    assert callable(fn), f"backend {backend.name!r} lacks op {name!r}"
    # Composites and wrapped ops keep the contract's parameter list too.
    assert str(inspect.signature(fn)).replace('"', "'") == f"({protocol.OPS[name].signature})"


@pytest.mark.parametrize("name", list(protocol.SERVICES))
def test_service_is_on_namespace(backend, name):
    assert hasattr(backend, name)


def test_services_have_the_contract_shape(backend):
    assert isinstance(backend.name, str) and backend.name
    assert isinstance(backend.device(), str) and backend.device()
    assert isinstance(backend.native_errors, tuple)
    assert all(isinstance(e, type) and issubclass(e, BaseException) for e in backend.native_errors)
    params = inspect.signature(backend.value_and_grad).parameters
    assert list(params)[:2] == ["fn", "variables"] and params["has_aux"].default is False
    params = inspect.signature(backend.compile_function).parameters
    assert params["jit_compile"].default is False
    params = inspect.signature(backend.Variable).parameters
    assert [(n, p.default) for n, p in params.items()][1:] == [("trainable", True), ("name", None), ("dtype", None)]


def test_every_op_has_conformance_cases():
    from op_table import CASES, IMAGE_OPS, NORMALIZATION_OPS, RANDOM_OPS, RECURRENT_OPS, STATEFUL_OPS

    covered = ({case.op for case in CASES} | set(RANDOM_OPS) | set(STATEFUL_OPS) | set(RECURRENT_OPS)
               | set(IMAGE_OPS) | set(NORMALIZATION_OPS))
    assert sorted(set(protocol.OPS) - covered) == []
    assert set(RANDOM_OPS) <= set(protocol.OPS)
    assert set(STATEFUL_OPS) <= set(protocol.OPS)
    assert set(RECURRENT_OPS) <= set(protocol.OPS)
    assert set(IMAGE_OPS) <= set(protocol.OPS)
    assert set(NORMALIZATION_OPS) <= set(protocol.OPS)
