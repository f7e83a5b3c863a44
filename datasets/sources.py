"""Where each dataset file comes from and the SHA-256 it must have.

Every remote file has a key ``"<dataset>/<filename>"``. That key is also its place
in the cache (``$HIGHLEVEL_HOME/datasets/<dataset>/<filename>``) and in a mirror
(``$HIGHLEVEL_DATASETS_URL/<dataset>/<filename>``): a mirror is a copy of the cache
folder served over HTTP(S).

Where the hashes come from (all SHA-256 of the exact file at that URL):
- MNIST, Fashion-MNIST, CIFAR-10/100 (binary), IMDB (aclImdb_v1): the
  ``url_checksums`` tables of tensorflow/datasets (url, size, sha256).
- Reuters-21578: ``download_checksums`` of the Hugging Face ``reuters21578``
  dataset card (8,150,596 bytes).
- California housing: scikit-learn's ``fetch_california_housing`` (figshare copy of
  the StatLib ``cal_housing.tgz``).
- Boston housing (StatLib ``datasets/boston``): no published hash exists, so it is
  trust-on-first-use (``None`` here): the hash of the first download is recorded
  next to the file (``<file>.sha256``) and checked on every later use, and the
  parser checks the layout (506 records of 14 numbers).

Tests replace entries of ``SHA256`` (and point ``HIGHLEVEL_DATASETS_URL`` at a local
server); the download and parsing code runs unchanged.
"""

from __future__ import annotations

_MNIST = "https://storage.googleapis.com/cvdf-datasets/mnist/"   # the original files, hosted by CVDF
_FASHION = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"

ORIGINS = {
    "mnist/train-images-idx3-ubyte.gz": _MNIST + "train-images-idx3-ubyte.gz",
    "mnist/train-labels-idx1-ubyte.gz": _MNIST + "train-labels-idx1-ubyte.gz",
    "mnist/t10k-images-idx3-ubyte.gz": _MNIST + "t10k-images-idx3-ubyte.gz",
    "mnist/t10k-labels-idx1-ubyte.gz": _MNIST + "t10k-labels-idx1-ubyte.gz",
    "fashion_mnist/train-images-idx3-ubyte.gz": _FASHION + "train-images-idx3-ubyte.gz",
    "fashion_mnist/train-labels-idx1-ubyte.gz": _FASHION + "train-labels-idx1-ubyte.gz",
    "fashion_mnist/t10k-images-idx3-ubyte.gz": _FASHION + "t10k-images-idx3-ubyte.gz",
    "fashion_mnist/t10k-labels-idx1-ubyte.gz": _FASHION + "t10k-labels-idx1-ubyte.gz",
    "cifar10/cifar-10-binary.tar.gz": "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
    "cifar100/cifar-100-binary.tar.gz": "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
    "imdb/aclImdb_v1.tar.gz": "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
    "reuters/reuters21578.tar.gz": "https://kdd.ics.uci.edu/databases/reuters21578/reuters21578.tar.gz",
    "boston_housing/boston": "http://lib.stat.cmu.edu/datasets/boston",
    "california_housing/cal_housing.tgz": "https://ndownloader.figshare.com/files/5976036",
}

SHA256 = {
    "mnist/train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "mnist/train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "mnist/t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "mnist/t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    "fashion_mnist/train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "fashion_mnist/train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "fashion_mnist/t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "fashion_mnist/t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    "cifar10/cifar-10-binary.tar.gz": "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
    "cifar100/cifar-100-binary.tar.gz": "58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec",
    "imdb/aclImdb_v1.tar.gz": "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
    "reuters/reuters21578.tar.gz": "3bae43c9b14e387f76a61b6d82bf98a4fb5d3ef99ef7e7075ff2ccbcf59f9d30",
    "boston_housing/boston": None,   # trust-on-first-use: no published hash (see the module docstring)
    "california_housing/cal_housing.tgz": "aaa5c9a6afe2225cc2aed2723682ae403280c4a3695a2ddda4ffb5d8215ea681",
}
