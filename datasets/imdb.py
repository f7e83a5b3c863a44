"""IMDB movie-review sentiment: 25,000 training and 25,000 test reviews, labelled 0/1.

Built from the Stanford text archive ``aclImdb_v1.tar.gz`` (Maas et al., 2011), not
from Keras's pickled ``imdb.npz``:

- reviews: ``aclImdb/{train,test}/{neg,pos}/<id>_<stars>.txt`` (``unsup`` is ignored),
  taken ``neg`` then ``pos``, each by increasing ``<id>``, before the seeded shuffle;
  labels: neg 0, pos 1;
- words: Keras's ``text_to_word_sequence`` tokenising (see ``text_sequences``), ranked
  by frequency in the training reviews (1 = most frequent, ties by first
  appearance); test words never seen in training are dropped, as Keras documents.

The sequences therefore follow Keras's conventions but are not bit-identical to
Keras's ``imdb.npz`` (whose exact preprocessing is unpublished): word ranks can differ
for words of equal frequency and the pre-shuffle order differs.
"""

from __future__ import annotations

import re

import numpy as np

from highlevel.datasets import archives, sequence_cache, text_sequences

DATASET = "imdb"
ARCHIVE = "aclImdb_v1.tar.gz"
_REVIEW = re.compile(r"^aclImdb/(train|test)/(neg|pos)/(\d+)_\d+\.txt$")
_MAX_REVIEW_BYTES = 1 << 20    # the longest review is ~14 kB


def _parse_archive(archive: str) -> tuple:
    """``({"train": (rank sequences, labels), "test": ...}, word_index)`` from the archive."""
    reviews = {"train": [], "test": []}
    wanted = lambda name: _REVIEW.match(name) is not None   # noqa: E731
    for name, content in archives.iter_tar_members(archive, wanted, _MAX_REVIEW_BYTES):
        split, sentiment, review_id = _REVIEW.match(name).groups()
        label = 1 if sentiment == "pos" else 0
        reviews[split].append((label, int(review_id), content.decode("utf-8", errors="replace")))
    words = {}
    for split in reviews:
        reviews[split].sort(key=lambda r: (r[0], r[1]))
        words[split] = [text_sequences.tokenize(text) for _, _, text in reviews[split]]
    word_index = text_sequences.rank_words(words["train"])
    splits = {split: ([text_sequences.encode(w, word_index) for w in words[split]],
                      np.array([r[0] for r in reviews[split]], dtype=np.int64)) for split in reviews}
    return splits, word_index


def _sequences_and_index(folder=None) -> tuple:
    return sequence_cache.parsed_archive(DATASET, ARCHIVE, _parse_archive, folder)


def load_data(path: str = DATASET, num_words=None, skip_top: int = 0, maxlen=None, seed: int = 113,
              start_char=1, oov_char=2, index_from: int = 3, **kwargs):
    """IMDB reviews as word-rank sequences, with Keras's ``imdb.load_data`` options and return value.

    Args:
        path: the cache subfolder (under ``$HIGHLEVEL_HOME/datasets``) for the archive
            (Keras's names one ``imdb.npz``).
        num_words: keep values below ``num_words`` (others become ``oov_char``); None keeps all.
        skip_top: values below ``skip_top`` become ``oov_char`` too.
        maxlen: drop sequences of ``maxlen`` or more values (start character included).
        seed: the shuffle of the training then the test reviews.
        start_char: prepended to every sequence (None: nothing).
        oov_char: replaces cut words (None: they are removed).
        index_from: word of rank ``r`` is encoded ``r + index_from``.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``x`` 1-D object arrays of int lists,
        ``y`` int64 arrays of 0/1.
    """
    if kwargs:
        raise TypeError(f"imdb.load_data: unexpected keyword argument(s) {sorted(kwargs)}")
    text_sequences.check_options("imdb.load_data", num_words, skip_top, maxlen, index_from)
    splits, _ = _sequences_and_index(path)
    rng = np.random.RandomState(seed)
    (x_train, y_train), (x_test, y_test) = (text_sequences.shuffled(rng, *splits[s]) for s in ("train", "test"))
    x_train = text_sequences.shift(x_train, start_char, index_from)
    x_test = text_sequences.shift(x_test, start_char, index_from)
    if maxlen:
        x_train, y_train = text_sequences.drop_long(x_train, y_train, maxlen)
        x_test, y_test = text_sequences.drop_long(x_test, y_test, maxlen)
        if not x_train or not x_test:
            raise ValueError(f"imdb.load_data: no sequence is shorter than maxlen={maxlen}; increase maxlen")
    sequences = text_sequences.limit_vocabulary(x_train + x_test, num_words, skip_top, oov_char)
    cut = len(x_train)
    return ((text_sequences.as_object_array(sequences[:cut]), np.asarray(y_train, dtype=np.int64)),
            (text_sequences.as_object_array(sequences[cut:]), np.asarray(y_test, dtype=np.int64)))


def get_word_index(path: str = DATASET) -> dict:
    """``{word: rank}`` of the training reviews (rank 1 = most frequent), as Keras's ``get_word_index``.

    In ``load_data``'s sequences the word of rank ``r`` is ``r + index_from``.
    """
    return dict(_sequences_and_index(path)[1])
