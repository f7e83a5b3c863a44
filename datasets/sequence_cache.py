"""A pickle-free on-disk cache of tokenised text datasets (rank sequences + word index).

Tokenising the IMDB archive (100,000 small files) takes seconds, so the result is
kept next to the archive as ``<name>.npz`` (ragged sequences stored as one flat
int32 array plus offsets; loaded with ``allow_pickle=False``) and
``<name>.word_index.json``. The name includes the archive's pinned hash and a
format version, so a different archive or parser never reads a stale cache.
"""

from __future__ import annotations

import json
import os

import numpy as np

from highlevel.datasets import download, sources

FORMAT_VERSION = 1


def parsed_archive(dataset: str, archive: str, parse, folder=None) -> tuple:
    """``(splits, word_index)`` of the dataset's archive: fetched (and verified) if needed, parsed
    with ``parse(archive_path)`` on first use, then read from this cache."""
    path = download.fetch_file(dataset, archive, folder)
    name = f"{dataset}-{(sources.SHA256[f'{dataset}/{archive}'] or 'unpinned')[:16]}"
    cached = load(os.path.dirname(path), name)
    if cached is None:
        cached = parse(path)
        save(os.path.dirname(path), name, *cached)
    return cached


def _paths(folder: str, name: str) -> tuple:
    stem = os.path.join(folder, f"{name}.v{FORMAT_VERSION}")
    return stem + ".npz", stem + ".word_index.json"


def load(folder: str, name: str):
    """``(splits {split: (sequences, labels)}, word_index)`` or None when not cached."""
    arrays_path, index_path = _paths(folder, name)
    if not (os.path.exists(arrays_path) and os.path.exists(index_path)):
        return None
    try:
        with np.load(arrays_path, allow_pickle=False) as arrays:
            splits = {}
            for split in str(arrays["splits"]).split(","):
                flat, offsets = arrays[f"{split}_flat"].tolist(), arrays[f"{split}_offsets"]
                sequences = [flat[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
                splits[split] = (sequences, arrays[f"{split}_labels"])
        with open(index_path, encoding="utf-8") as f:
            word_index = json.load(f)
    except (OSError, ValueError, KeyError):
        return None     # damaged: the caller rebuilds it from the archive
    return splits, word_index


def save(folder: str, name: str, splits: dict, word_index: dict) -> None:
    """Store ``splits`` ``{split: (sequences, labels)}`` and ``word_index`` (written atomically)."""
    arrays_path, index_path = _paths(folder, name)
    arrays = {"splits": np.array(",".join(splits))}
    for split, (sequences, labels) in splits.items():
        lengths = np.array([len(s) for s in sequences], dtype=np.int64)
        arrays[f"{split}_offsets"] = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        arrays[f"{split}_flat"] = np.array([w for s in sequences for w in s], dtype=np.int32)
        arrays[f"{split}_labels"] = np.asarray(labels, dtype=np.int64)
    for path, write in ((index_path, lambda f: f.write(json.dumps(word_index).encode("utf-8"))),
                        (arrays_path, lambda f: np.savez(f, **arrays))):
        with open(path + ".tmp", "wb") as f:
            write(f)
        os.replace(path + ".tmp", path)
