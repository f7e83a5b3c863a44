"""``hl.utils``: seeding, label encoding, data utilities, datasets and nested-structure helpers."""

from highlevel.utils.categorical import to_categorical
from highlevel.utils.dataset_utils import split_dataset, train_test_split
from highlevel.utils.file_utils import get_file
from highlevel.utils.image_dataset import image_dataset_from_directory
from highlevel.utils.numerical_utils import normalize
from highlevel.utils.py_dataset import PyDataset
from highlevel.utils.seeding import set_random_seed
from highlevel.utils.sequence_utils import pad_sequences
from highlevel.utils.text_dataset import text_dataset_from_directory

__all__ = ["PyDataset", "get_file", "image_dataset_from_directory", "normalize", "pad_sequences",
           "set_random_seed", "split_dataset", "text_dataset_from_directory", "to_categorical",
           "train_test_split"]
