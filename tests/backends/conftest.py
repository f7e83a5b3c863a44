"""Fixtures of the backend conformance suite (``tests/backends``).

The suite runs once per backend (``HIGHLEVEL_BACKEND=numpy|torch|tensorflow``):

* ``op_table.py``: every op of ``protocol.OPS`` in variants, with an independent NumPy
  expression, dtype and tolerance per case; ``naive_ops.py``: loop-based references
  for conv, depthwise_conv, conv_transpose and pooling.
* ``test_forward.py``, ``test_gradients.py`` (vs the NumPy reference in float64 and the
  reference vs finite differences), ``test_compiled.py``, ``test_composites.py``
  (the loader's composite ops built on this backend), ``test_windowed.py``.
* ``test_autodiff.py``, ``test_variables.py``, ``test_promotion.py`` (incl. hypothesis),
  ``test_random.py``, ``test_errors.py``, ``test_dtypes.py``, ``test_signatures.py``.

``backend``: the backend under test, the one ``import highlevel`` chose from
``HIGHLEVEL_BACKEND``. ``ref``: the NumPy reference backend, loaded in-process beside
it (the same object when the backend under test is NumPy). Both are imported
lazily, so the backend-free checks of the naive references run even when a backend
fails to load.
"""

import pytest


@pytest.fixture(scope="session")
def backend():
    import highlevel

    return highlevel.backend.current()


@pytest.fixture(scope="session")
def ref():
    from highlevel.backends import load

    return load("numpy")
