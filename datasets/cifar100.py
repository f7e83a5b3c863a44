"""CIFAR-100: 50,000 training and 10,000 test 32x32 colour images, 100 fine / 20 coarse classes.

Read from the binary version (``cifar-100-binary.tar.gz``), never the pickled one;
cached in ``$HIGHLEVEL_HOME/datasets/cifar100/``.
"""

from __future__ import annotations

from highlevel.datasets import cifar_binary, download

DATASET = "cifar100"
ARCHIVE = "cifar-100-binary.tar.gz"
_FOLDER = "cifar-100-binary"
_LABEL_COLUMN = {"coarse": 0, "fine": 1}   # each record starts with the coarse then the fine label


def load_data(label_mode: str = "fine"):
    """CIFAR-100, with Keras's ``cifar100.load_data`` return value (channels-last).

    Args:
        label_mode: ``"fine"`` (100 classes) or ``"coarse"`` (20 superclasses).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: images ``(50000, 32, 32, 3)`` and
        ``(10000, 32, 32, 3)`` uint8, labels ``(n, 1)`` uint8.
    """
    if label_mode not in _LABEL_COLUMN:
        raise ValueError(f'cifar100.load_data: label_mode must be "fine" or "coarse", got {label_mode!r}')
    column = _LABEL_COLUMN[label_mode]
    archive = download.fetch_file(DATASET, ARCHIVE)
    splits = cifar_binary.load_splits(archive, [[f"{_FOLDER}/train.bin"], [f"{_FOLDER}/test.bin"]], 2, 50000)
    return tuple((images, labels[:, column:column + 1].copy()) for images, labels in splits)
