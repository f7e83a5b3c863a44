"""``hl.utils``: seeding, label encoding and nested-structure helpers."""

from highlevel.utils.categorical import to_categorical
from highlevel.utils.file_utils import get_file
from highlevel.utils.seeding import set_random_seed

__all__ = ["get_file", "set_random_seed", "to_categorical"]
