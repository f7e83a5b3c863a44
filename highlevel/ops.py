"""``hl.ops``: one backend-agnostic op namespace, names as in ``keras.ops`` / NumPy.

Every name is bound to the chosen backend's function at import, so a call costs no
dispatch. ``highlevel.backends.protocol`` documents each op's signature and meaning.
"""

from highlevel import backend as _backend
from highlevel.backends import protocol as _protocol
from highlevel.backends.protocol import InvalidArgumentError, result_type, standardize_dtype

_impl = _backend.current()
for _name in _protocol.OPS:
    globals()[_name] = getattr(_impl, _name)

value_and_grad = _impl.value_and_grad
compile_function = _impl.compile_function
Variable = _impl.Variable

__all__ = list(_protocol.OPS) + ["value_and_grad", "compile_function", "Variable", "InvalidArgumentError",
                                 "result_type", "standardize_dtype"]
del _name
