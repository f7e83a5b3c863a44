"""Preprocessing and augmentation layers (Keras 3 names and arguments).

* numeric, on ``hl.ops``: ``Rescaling``, ``Normalization`` (``adapt``), ``Discretization``,
  ``CategoryEncoding``, ``Hashing`` (integers), ``IntegerLookup``;
* images: ``Resizing``, ``CenterCrop``; augmentation (training only, seeded through
  ``hl.random``, identical on every backend): ``RandomFlip``, ``RandomRotation``,
  ``RandomTranslation``, ``RandomZoom``, ``RandomCrop``, ``RandomContrast``, ``RandomBrightness``;
* strings, on host NumPy data (returning backend int tensors): ``StringLookup``,
  ``TextVectorization``, ``Hashing`` of strings.
"""

from highlevel.layers.preprocessing.augmentation import (RandomBrightness, RandomContrast, RandomCrop, RandomFlip,
                                                         RandomRotation, RandomTranslation, RandomZoom)
from highlevel.layers.preprocessing.categorical import CategoryEncoding, Hashing
from highlevel.layers.preprocessing.image import CenterCrop, Resizing
from highlevel.layers.preprocessing.lookup import IntegerLookup, StringLookup
from highlevel.layers.preprocessing.numerical import Discretization, Normalization, Rescaling
from highlevel.layers.preprocessing.text import TextVectorization

__all__ = ["CategoryEncoding", "CenterCrop", "Discretization", "Hashing", "IntegerLookup", "Normalization",
           "RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip", "RandomRotation", "RandomTranslation",
           "RandomZoom", "Rescaling", "Resizing", "StringLookup", "TextVectorization"]
