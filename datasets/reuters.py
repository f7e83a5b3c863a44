"""Reuters newswire topics: short Reuters (1987) stories labelled with one of 46 topics.

Built from the Reuters-21578 SGML archive (``reuters21578.tar.gz``, UCI KDD) rather
than Keras's pickled ``reuters.npz``. Keras's 11,228-story, 46-topic set comes from
an unpublished preprocessing, so this module makes that choice explicitly:

- documents: every ``<REUTERS>`` element of ``reut2-000.sgm`` .. ``reut2-021.sgm``, in
  file and ``NEWID`` order, that has a ``<BODY>`` and whose FIRST ``<TOPICS>`` entry
  is one of the 46 topics of ``get_label_names()``; its label is that topic's
  position in that list (the same label numbers as Keras);
- text: the raw ``<BODY>`` content, tokenised like Keras's ``text_to_word_sequence``
  (so the closing ``&#3;`` entity becomes the word ``"3"``, as in Keras's data);
- word ranks: frequency over all kept documents (1 = most frequent, ties by first
  appearance).

The number of stories is close to, not exactly, Keras's 11,228.
"""

from __future__ import annotations

import re

import numpy as np

from highlevel.datasets import archives, sequence_cache, text_sequences

DATASET = "reuters"
ARCHIVE = "reuters21578.tar.gz"
_SGM = re.compile(r"^(?:.*/)?reut2-(\d{3})\.sgm$")
_MAX_SGM_BYTES = 8 << 20        # each .sgm file is about 1.3 MB
_STORY = re.compile(r"<REUTERS\b[^>]*>(.*?)</REUTERS>", re.S)
_TOPICS = re.compile(r"<TOPICS>(.*?)</TOPICS>", re.S)
_ENTRY = re.compile(r"<D>(.*?)</D>", re.S)
_BODY = re.compile(r"<BODY>(.*?)</BODY>", re.S)

_LABEL_NAMES = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply", "coffee",
    "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas", "cpi", "money-fx",
    "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin", "strategic-metal", "livestock",
    "retail", "ipi", "iron-steel", "rubber", "heat", "jobs", "lei", "bop", "zinc", "orange", "pet-chem",
    "dlr", "gas", "silver", "wpi", "hog", "lead",
)


def get_label_names() -> tuple:
    """The 46 topic names; label ``i`` is ``get_label_names()[i]`` (Keras's order)."""
    return _LABEL_NAMES


def parse_stories(sgml: str) -> list:
    """``[(label, body text), ...]`` of the stories of one ``.sgm`` file that make the 46-topic set."""
    label_of = {name: i for i, name in enumerate(_LABEL_NAMES)}
    stories = []
    for story in _STORY.findall(sgml):
        topics, body = _TOPICS.search(story), _BODY.search(story)
        entries = _ENTRY.findall(topics.group(1)) if topics else []
        if body and entries and entries[0] in label_of:
            stories.append((label_of[entries[0]], body.group(1)))
    return stories


def _parse_archive(archive: str) -> tuple:
    files = {}
    for name, content in archives.iter_tar_members(archive, lambda n: _SGM.match(n) is not None, _MAX_SGM_BYTES):
        # The files are Latin-1 (one has a stray control byte); Latin-1 decodes any byte.
        files[int(_SGM.match(name).group(1))] = content.decode("latin-1")
    if not files:
        raise ValueError(f"{archive} is not the Reuters-21578 archive: it has no reut2-NNN.sgm file")
    stories = [story for number in sorted(files) for story in parse_stories(files[number])]
    words = [text_sequences.tokenize(body) for _, body in stories]
    word_index = text_sequences.rank_words(words)
    sequences = [text_sequences.encode(w, word_index) for w in words]
    return {"all": (sequences, np.array([label for label, _ in stories], dtype=np.int64))}, word_index


def _sequences_and_index(folder=None) -> tuple:
    return sequence_cache.parsed_archive(DATASET, ARCHIVE, _parse_archive, folder)


def load_data(path: str = DATASET, num_words=None, skip_top: int = 0, maxlen=None, test_split: float = 0.2,
              seed: int = 113, start_char=1, oov_char=2, index_from: int = 3):
    """Reuters stories as word-rank sequences, with Keras's ``reuters.load_data`` options and return value.

    Args:
        path: the cache subfolder (under ``$HIGHLEVEL_HOME/datasets``) for the archive.
        num_words, skip_top, maxlen, start_char, oov_char, index_from: as ``imdb.load_data``.
        test_split: fraction of the (shuffled, length-filtered) stories put in the test set.
        seed: the shuffle before the split.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``x`` 1-D object arrays of int lists,
        ``y`` int64 arrays of topic labels in 0..45.
    """
    text_sequences.check_options("reuters.load_data", num_words, skip_top, maxlen, index_from)
    if not 0.0 <= float(test_split) <= 1.0:
        raise ValueError(f"reuters.load_data: test_split must be in [0, 1], got {test_split}")
    splits, _ = _sequences_and_index(path)
    sequences, labels = text_sequences.shuffled(np.random.RandomState(seed), *splits["all"])
    sequences = text_sequences.shift(sequences, start_char, index_from)
    sequences, labels = text_sequences.drop_long(sequences, labels, maxlen)
    sequences = text_sequences.limit_vocabulary(sequences, num_words, skip_top, oov_char)
    cut = int(len(sequences) * (1 - test_split))
    labels = np.asarray(labels, dtype=np.int64)
    return ((text_sequences.as_object_array(sequences[:cut]), labels[:cut]),
            (text_sequences.as_object_array(sequences[cut:]), labels[cut:]))


def get_word_index(path: str = DATASET) -> dict:
    """``{word: rank}`` over the kept stories (rank 1 = most frequent); in sequences it is ``rank + index_from``."""
    return dict(_sequences_and_index(path)[1])
