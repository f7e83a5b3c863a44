"""Where dataset files live on disk and which URL they are fetched from.

The cache is ``$HIGHLEVEL_HOME/datasets/`` (``HIGHLEVEL_HOME`` defaults to
``~/.highlevel``, read by the same function that finds the backend config file).
``HIGHLEVEL_DATASETS_URL``, when set, replaces every origin: the file with key
``<dataset>/<filename>`` is fetched from ``<HIGHLEVEL_DATASETS_URL>/<dataset>/<filename>``.
"""

from __future__ import annotations

import os

from highlevel.backends import config_path

MIRROR_ENV = "HIGHLEVEL_DATASETS_URL"


def highlevel_home() -> str:
    """``$HIGHLEVEL_HOME`` or ``~/.highlevel`` (the folder holding ``highlevel.json``)."""
    return os.path.dirname(config_path())


def datasets_dir() -> str:
    """The dataset cache folder, ``$HIGHLEVEL_HOME/datasets``."""
    return os.path.join(highlevel_home(), "datasets")


def cached_path(key: str, folder: str | None = None) -> str:
    """Where the file ``"<dataset>/<filename>"`` is kept in the cache.

    ``folder`` replaces the ``<dataset>`` folder (relative to the cache, or absolute):
    the loaders' ``path`` argument.
    """
    dataset, filename = key.split("/")
    folder = os.path.expanduser(os.fspath(folder)) if folder else dataset
    return os.path.join(datasets_dir(), folder, filename)


def url_for(key: str, origin: str) -> str:
    """The mirror's URL for ``key`` when ``HIGHLEVEL_DATASETS_URL`` is set, else ``origin``."""
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    if not mirror:
        return origin
    return mirror.rstrip("/") + "/" + key
