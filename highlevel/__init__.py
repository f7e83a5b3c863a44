"""highlevel: a Keras-style deep learning framework on PyTorch, TensorFlow or NumPy.

The backend is chosen once, here, from ``HIGHLEVEL_BACKEND`` (see ``highlevel.backends``).
"""

__version__ = "0.1.0"

from highlevel import backend, ops, utils  # noqa: E402
from highlevel.ops import Variable  # noqa: E402

__all__ = ["Variable", "backend", "ops", "utils", "__version__"]
