"""``hl.utils.get_file``: Keras's download-and-cache helper, on the dataset download code.

Same signature and cache layout as ``keras.utils.get_file`` with the cache rooted at
``$HIGHLEVEL_HOME`` instead of ``~/.keras``. Downloads are resumable, shown with a
progress bar, verified (SHA-256 or MD5) before they are renamed into place, and
archives are extracted member by member (links and paths leaving the folder refused).
"""

from __future__ import annotations

import os
import urllib.parse


def get_file(fname=None, origin=None, untar=False, md5_hash=None, file_hash=None, cache_subdir="datasets",
             hash_algorithm="auto", extract=False, archive_format="auto", cache_dir=None,
             force_download=False):
    """Download ``origin`` into ``<cache_dir>/<cache_subdir>/<fname>`` unless a valid copy is there.

    Args:
        fname: local file name (default: the last part of the URL). With ``extract``,
            a name without a dot is the extraction folder, as in Keras.
        origin: the URL.
        untar, md5_hash: Keras's deprecated spellings of ``extract=True`` and an MD5 ``file_hash``.
        file_hash: expected hex digest; a cached file that does not match is downloaded
            again, a download that does not match raises ``ChecksumMismatchError``
            (a ``ValueError``) and is deleted.
        cache_subdir: folder under ``cache_dir`` (an absolute path is used as is).
        hash_algorithm: ``"sha256"``, ``"md5"`` or ``"auto"`` (64 hex digits = SHA-256, else MD5).
        extract: extract the tar/zip archive; the extraction folder is returned.
        archive_format: ``"auto"`` (tar then zip), ``"tar"``, ``"zip"`` or a list of them.
        cache_dir: cache root (default ``$HIGHLEVEL_HOME``, i.e. ``~/.highlevel``).
        force_download: download even when a valid copy is cached.

    Returns:
        The path of the file, or of the extraction folder when extracting.
    """
    from highlevel.datasets import archives, cache, download

    if origin is None:
        raise ValueError('get_file: the "origin" argument (URL of the file to download) is required')
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    algorithm = _algorithm(hash_algorithm, file_hash)
    root = os.path.expanduser(os.fspath(cache_dir)) if cache_dir is not None else cache.highlevel_home()
    folder = os.path.join(root, cache_subdir)
    os.makedirs(folder, exist_ok=True)
    given = os.fspath(fname) if fname is not None else None
    if given and os.sep in given:
        raise ValueError(f"get_file: fname must be a file name, not a path (got {given!r}); "
                         "use cache_dir/cache_subdir to choose the folder")
    name = given or os.path.basename(urllib.parse.urlsplit(origin).path)
    if not name:
        raise ValueError(f"get_file: cannot take a file name from origin {origin!r}; pass fname")
    extract = extract or untar
    if extract:
        # Keras's naming: "x.tar.gz" -> archive "x.tar.gz", folder "x_extracted";
        # "x" (no dot) or a name from the URL -> archive "x_archive", folder "x".
        if given and "." in name:
            target = os.path.join(folder, name)
            extraction_dir = os.path.join(folder, name[:name.find(".")] + "_extracted")
        else:
            target, extraction_dir = os.path.join(folder, name + "_archive"), os.path.join(folder, name)
    else:
        target = os.path.join(folder, name)

    needs_download = force_download or not os.path.exists(target)
    if not needs_download and file_hash is not None and download.hash_file(target, algorithm) != file_hash.lower():
        needs_download = True   # an outdated or damaged copy
    if needs_download:
        if os.path.exists(target):
            os.remove(target)
        download.download(origin, target, file_hash, algorithm)
    if extract:
        if not archives.extract(target, extraction_dir, "tar" if untar else archive_format):
            raise ValueError(f"get_file: {target} is not a {archive_format} archive, cannot extract it")
        return extraction_dir
    return target


def _algorithm(hash_algorithm: str, file_hash) -> str:
    if hash_algorithm not in ("auto", "sha256", "md5"):
        raise ValueError(f'get_file: hash_algorithm must be "auto", "sha256" or "md5", got {hash_algorithm!r}')
    if hash_algorithm == "auto":
        return "sha256" if file_hash is not None and len(file_hash) == 64 else "md5"
    return hash_algorithm
