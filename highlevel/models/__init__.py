"""``hl.models``: ``Model`` (functional and subclassed), ``Sequential``, ``Functional``."""

from highlevel.models.model import Model
from highlevel.models.functional import Functional  # noqa: E402  (needs Model)
from highlevel.models.sequential import Sequential  # noqa: E402
from highlevel.saving.native import clone_model, load_model, model_from_json  # noqa: E402

__all__ = ["Functional", "Model", "Sequential", "clone_model", "load_model", "model_from_json"]
