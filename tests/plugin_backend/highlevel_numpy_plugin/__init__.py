"""A third-party highlevel backend: the NumPy reference re-exported under the name ``numpy_plugin``.

It shows what a plugin provides: every op of ``highlevel.backends.protocol.OPS`` (or a
composite), the services, and an entry point in the ``highlevel.backends`` group.
"""

from highlevel.backends import numpy as _reference
from highlevel.backends import protocol as _protocol

name = "numpy_plugin"

for _export in list(_protocol.OPS) + list(_protocol.SERVICES) + ["bind_backend"]:
    if _export != "name" and hasattr(_reference, _export):
        globals()[_export] = getattr(_reference, _export)
