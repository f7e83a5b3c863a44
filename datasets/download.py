"""Streaming, resumable, verified HTTP downloads into the dataset cache (stdlib ``urllib`` only).

A download is written to ``<final>.part`` next to the final name. When a ``.part``
is already there (an earlier download was cut), the request asks for the rest with
``Range: bytes=<size>-``; a server that answers ``200`` (it ignores ranges) or
``416`` makes us start over. The finished file is hashed and only then renamed
into place (an atomic ``os.replace``), so the final path never holds a partial or
unverified file. A hash mismatch deletes the download and raises
``ChecksumMismatchError`` naming the URL and both hashes.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request

from highlevel.datasets import cache, sources
from highlevel.datasets.errors import ChecksumMismatchError, DatasetUnavailableError

TIMEOUT_S = 30.0            # per socket operation (connect, each read), not for the whole file
CHUNK_BYTES = 1 << 16
TOFU_SUFFIX = ".sha256"     # sidecar recording the first download's hash of an unpinned file


def hash_file(path: str, algorithm: str = "sha256") -> str:
    """Hex digest of the file at ``path`` (``algorithm``: ``"sha256"`` or ``"md5"``)."""
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def fetch_file(dataset: str, filename: str, folder: str | None = None, verbose: int | str = "auto") -> str:
    """``fetch("<dataset>/<filename>")``, kept in ``folder`` instead of ``<dataset>`` when given."""
    return fetch(f"{dataset}/{filename}", folder, verbose)


def fetch(key: str, folder: str | None = None, verbose: int | str = "auto") -> str:
    """Path of the cached, verified dataset file ``key`` (``"<dataset>/<filename>"``).

    Downloads it (from ``sources.ORIGINS[key]`` or the mirror) when it is not cached.
    ``folder``: see ``cache.cached_path``. ``verbose``: ``"auto"`` shows a progress bar
    on a terminal, 0 never, 1 always.
    """
    path = cache.cached_path(key, folder)
    expected = sources.SHA256[key]
    url = cache.url_for(key, sources.ORIGINS[key])
    replaced = ""
    if os.path.exists(path):
        if _cached_file_ok(path, expected):
            return path
        # A damaged or outdated copy (or a wrong file put there by hand): fetch it again.
        replaced = (f" (A file was already at {path} but its sha256 {hash_file(path)} is not the expected "
                    f"{expected or 'recorded hash'}; it was removed.)")
        os.remove(path)
    try:
        download(url, path, expected, "sha256", verbose=verbose)
    except DatasetUnavailableError as error:
        if not replaced:
            raise
        raise type(error)(str(error) + replaced) from None
    if expected is None:
        _record_first_hash(path)
    return path


def _cached_file_ok(path: str, expected: str | None) -> bool:
    if expected is not None:
        return hash_file(path) == expected
    recorded = path + TOFU_SUFFIX
    if not os.path.exists(recorded):
        # Put there by hand: trust it from now on, like a first download.
        _record_first_hash(path)
        return True
    with open(recorded, encoding="ascii") as f:
        return hash_file(path) == f.read().strip()


def _record_first_hash(path: str) -> None:
    with open(path + TOFU_SUFFIX, "w", encoding="ascii") as f:
        f.write(hash_file(path) + "\n")


def download(url: str, path: str, expected_hash: str | None = None, algorithm: str = "sha256",
             verbose: int | str = "auto") -> None:
    """Download ``url`` to ``path`` through ``path + ".part"``, resuming a partial one.

    Raises ``DatasetUnavailableError`` when the server cannot be reached or the
    transfer stops early (the ``.part`` stays for the next attempt to resume), and
    ``ChecksumMismatchError`` when the finished file's ``algorithm`` digest is not
    ``expected_hash`` (the download is deleted).
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    part = path + ".part"
    try:
        _transfer(url, part, verbose)
    except urllib.error.HTTPError as error:
        raise _unavailable(url, path, f"the server answered HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        # HTTPException: http.client's IncompleteRead and friends for a connection cut mid-body.
        reason = getattr(error, "reason", None) or error
        raise _unavailable(url, path, f"{type(error).__name__}: {reason}") from None
    if expected_hash is not None:
        actual = hash_file(part, algorithm)
        if actual != expected_hash.lower():
            os.remove(part)
            raise ChecksumMismatchError(
                f"the file downloaded from {url} has {algorithm} {actual}, expected {expected_hash}; "
                f"it was deleted. The server may be serving a different or damaged file.")
    os.replace(part, path)


def _unavailable(url: str, path: str, reason: str) -> DatasetUnavailableError:
    part = path + ".part"
    resume = (f" The partial download ({os.path.getsize(part)} bytes) is kept at {part}; "
              "the next attempt resumes it." if os.path.exists(part) else "")
    return DatasetUnavailableError(
        f"could not download {url}: {reason}.{resume} To use the data offline, put the file at "
        f"{path} (it is verified before use), or set {cache.MIRROR_ENV} to a mirror "
        f"that serves <mirror>/<dataset>/<filename>.")


def _transfer(url: str, part: str, verbose) -> None:
    """Append the missing bytes of ``url`` to ``part`` (created when absent)."""
    have = os.path.getsize(part) if os.path.exists(part) else 0
    request = urllib.request.Request(url, headers={"User-Agent": "highlevel-datasets"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as error:
        if error.code != 416 or not have:
            raise
        # "Range not satisfiable": the .part is not a prefix we can extend. Start over.
        error.close()
        os.remove(part)
        return _transfer(url, part, verbose)
    with response:
        if have and response.status != 206:
            have = 0            # the server ignored the Range header: it sends the whole file again
        elif have and not response.headers.get("Content-Range", "").startswith(f"bytes {have}-"):
            raise DatasetUnavailableError(f"{url}: the server resumed at the wrong offset "
                                          f"(Content-Range {response.headers.get('Content-Range')!r}, "
                                          f"asked for bytes {have}-)")
        length = response.headers.get("Content-Length")
        remaining = int(length) if length is not None else None
        total = have + remaining if remaining is not None else None
        with open(part, "ab" if have else "wb") as out, _progress(url, total, have, verbose) as bar:
            received = 0
            while True:
                chunk = response.read(CHUNK_BYTES)
                if not chunk:
                    break
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
            # On disk before the rename into place: a crash must not leave a verified name on lost bytes.
            out.flush()
            os.fsync(out.fileno())
        if remaining is not None and received < remaining:
            raise DatasetUnavailableError(f"the connection closed after {have + received} of {total} bytes")


def _progress(url: str, total, initial: int, verbose):
    from tqdm.auto import tqdm

    # disable=None is tqdm's "only on a terminal".
    disable = None if verbose == "auto" else not verbose
    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024,
                desc=url.rsplit("/", 1)[-1], disable=disable, file=sys.stderr, leave=False)
