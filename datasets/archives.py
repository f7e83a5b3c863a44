"""Reading and extracting archives without trusting their member names or sizes.

Nothing here calls ``extractall``: members are visited one by one, links,
absolute paths and ``..`` components are refused, and every member read into
memory has a size limit.
"""

from __future__ import annotations

import os
import posixpath
import re
import tarfile
import zipfile
from typing import Callable, Iterator


_DRIVE = re.compile(r"^[A-Za-z]:")   # "C:/..." is absolute on Windows


class UnsafeArchiveError(ValueError):
    """An archive member has a link, an absolute path, a ``..`` component or is too large."""


def _check_name(archive: str, name: str) -> str:
    normalized = posixpath.normpath(name.replace("\\", "/"))
    if normalized.startswith("/") or normalized == ".." or normalized.startswith("../") or _DRIVE.match(normalized):
        raise UnsafeArchiveError(f"{archive}: refusing member {name!r} (absolute path or outside the archive)")
    return normalized


def iter_tar_members(path: str, wanted: Callable[[str], bool], max_bytes: int) -> Iterator[tuple[str, bytes]]:
    """Yield ``(name, content)`` of the regular files of the tar archive at ``path`` for which
    ``wanted(name)`` is true, in archive order (gzip/bz2/xz detected).

    A wanted member that is a link or device, or larger than ``max_bytes``, raises
    ``UnsafeArchiveError``; members not wanted are skipped without being read.
    """
    with tarfile.open(path, "r:*") as tar:
        for member in tar:      # streaming: the archive is read once, front to back
            name = _check_name(path, member.name)
            if member.isdir() or not wanted(name):
                continue
            if not member.isfile():
                raise UnsafeArchiveError(f"{path}: member {name!r} is a link or special file, not a regular file")
            if member.size > max_bytes:
                raise UnsafeArchiveError(f"{path}: member {name!r} has {member.size} bytes, more than the "
                                         f"{max_bytes} expected")
            yield name, tar.extractfile(member).read()


def read_tar_members(path: str, names, max_bytes: int) -> dict:
    """``{name: content}`` for exactly ``names`` from the tar at ``path``; a missing one is an error."""
    names = set(names)
    found = dict(iter_tar_members(path, names.__contains__, max_bytes))
    missing = sorted(names - set(found))
    if missing:
        raise ValueError(f"{path} is not the expected archive: it has no member(s) {missing}")
    return found


def extract(path: str, destination: str, archive_format="auto") -> bool:
    """Extract the tar or zip archive at ``path`` into ``destination`` member by member.

    Returns False when ``path`` is none of the allowed formats (Keras's
    ``extract_archive`` contract); raises ``UnsafeArchiveError`` for links or names
    that would land outside ``destination``.
    """
    formats = ["tar", "zip"] if archive_format == "auto" else (
        [archive_format] if isinstance(archive_format, str) else list(archive_format or []))
    if "tar" in formats and tarfile.is_tarfile(path):
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                name = _check_name(path, member.name)
                if member.isdir():
                    os.makedirs(os.path.join(destination, name), exist_ok=True)
                elif member.isfile():
                    _write(destination, name, tar.extractfile(member))
                else:
                    raise UnsafeArchiveError(f"{path}: refusing member {name!r} (a link or special file)")
        return True
    if "zip" in formats and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                name = _check_name(path, info.filename)
                if info.is_dir():
                    os.makedirs(os.path.join(destination, name), exist_ok=True)
                else:
                    with archive.open(info) as source:
                        _write(destination, name, source)
        return True
    return False


def _write(destination: str, name: str, source) -> None:
    target = os.path.join(destination, *name.split("/"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as out:
        while chunk := source.read(1 << 20):
            out.write(chunk)
