"""MNIST handwritten digits: 60,000 training and 10,000 test images of 28x28 pixels.

Read from the original IDX files (``train-images-idx3-ubyte.gz`` and friends),
downloaded once into ``$HIGHLEVEL_HOME/datasets/mnist/`` and verified by SHA-256.
"""

from __future__ import annotations

from highlevel.datasets import download, idx

DATASET = "mnist"


def load_data(path: str = DATASET):
    """The MNIST digits, with Keras's ``mnist.load_data`` return value.

    Args:
        path: the cache subfolder (under ``$HIGHLEVEL_HOME/datasets``) holding the four
            IDX files. Keras's ``path`` names one ``mnist.npz``; ours names the folder
            of the original files (an absolute path is used as is).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: images ``(60000, 28, 28)`` and
        ``(10000, 28, 28)`` uint8 in 0..255, labels ``(60000,)`` and ``(10000,)`` uint8 in 0..9.
    """
    return idx.load_image_label_pairs(lambda filename: download.fetch_file(DATASET, filename, path))
