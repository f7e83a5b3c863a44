"""CIFAR-10: 50,000 training and 10,000 test 32x32 colour images of 10 classes.

Read from the binary version (``cifar-10-binary.tar.gz``, Alex Krizhevsky's site),
never the pickled Python version; cached in ``$HIGHLEVEL_HOME/datasets/cifar10/``.
"""

from __future__ import annotations

from highlevel.datasets import cifar_binary, download

DATASET = "cifar10"
ARCHIVE = "cifar-10-binary.tar.gz"
_FOLDER = "cifar-10-batches-bin"
RECORDS_PER_BATCH = 10000


def load_data():
    """CIFAR-10, with Keras's ``cifar10.load_data`` return value (channels-last).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: images ``(50000, 32, 32, 3)`` and
        ``(10000, 32, 32, 3)`` uint8, labels ``(n, 1)`` uint8 in 0..9 (airplane,
        automobile, bird, cat, deer, dog, frog, horse, ship, truck).
    """
    archive = download.fetch_file(DATASET, ARCHIVE)
    train = [f"{_FOLDER}/data_batch_{i}.bin" for i in range(1, 6)]
    test = [f"{_FOLDER}/test_batch.bin"]
    train_pair, test_pair = cifar_binary.load_splits(archive, [train, test], 1, RECORDS_PER_BATCH)
    return train_pair, test_pair
