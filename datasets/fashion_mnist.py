"""Fashion-MNIST (Zalando): 60,000 training and 10,000 test 28x28 images of 10 clothing classes.

Read from the original IDX files published by Zalando Research, downloaded once
into ``$HIGHLEVEL_HOME/datasets/fashion_mnist/`` and verified by SHA-256.
"""

from __future__ import annotations

from highlevel.datasets import download, idx

DATASET = "fashion_mnist"


def load_data():
    """Fashion-MNIST, with Keras's ``fashion_mnist.load_data`` return value.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: images ``(60000, 28, 28)`` and
        ``(10000, 28, 28)`` uint8, labels ``(n,)`` uint8 in 0..9 (0 T-shirt/top,
        1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag,
        9 Ankle boot).
    """
    return idx.load_image_label_pairs(lambda filename: download.fetch_file(DATASET, filename))
