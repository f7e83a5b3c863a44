"""Low-level file handling for saved models: the error type, limits, a bounded safetensors
reader/writer, a bounded zip reader and atomic writes.

Everything here treats file contents as untrusted data: sizes are checked before anything
is allocated, nothing is unpickled, evaluated or imported, and every malformed input
raises ``FileFormatError``. See docs/file-format.md.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
import zipfile

import numpy as np


class FileFormatError(ValueError):
    """A saved file is truncated, corrupted, oversized or not a highlevel file."""


# ------------------------------------------------------------------- limits
MAX_JSON_BYTES = 16 * 2**20          # config.json and a safetensors header
MAX_JSON_DEPTH = 200                 # nesting of JSON containers
MAX_MEMBER_BYTES = 8 * 2**30         # one uncompressed zip member
MAX_COMPRESSION_RATIO = 200          # uncompressed / compressed size of a deflated member
MAX_TENSOR_DIMS = 16
MAX_NAME_CHARS = 4096                # a tensor name

SAFETENSORS_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_DTYPE_NAMES = {dtype: name for name, dtype in SAFETENSORS_DTYPES.items()}


# --------------------------------------------------------------------- JSON
def _depth_ok(value, limit):
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return True


def loads_json(data, what: str, max_bytes: int = MAX_JSON_BYTES):
    """Parse bounded JSON (bytes or str); ``FileFormatError`` on anything malformed."""
    if len(data) > max_bytes:
        raise FileFormatError(f"{what} is {len(data)} bytes, over the limit of {max_bytes} bytes")
    try:
        if isinstance(data, (bytes, bytearray)):
            data = bytes(data).decode("utf-8")
        # The C parser raises RecursionError (never crashes) on very deep nesting; the depth
        # limit is checked on the result.
        value = json.loads(data, parse_constant=_reject_constant)
    except FileFormatError:
        raise
    except (ValueError, RecursionError, UnicodeDecodeError) as error:
        raise FileFormatError(f"{what} is not valid JSON: {error}") from error
    if not _depth_ok(value, MAX_JSON_DEPTH + 1):
        raise FileFormatError(f"{what} nests deeper than {MAX_JSON_DEPTH} levels")
    return value


def _reject_constant(name):
    raise FileFormatError(f"JSON constant {name} is not allowed")


# -------------------------------------------------------------- safetensors
def encode_safetensors(named_arrays, metadata: dict | None = None) -> list:
    """``(header_bytes, [array bytes ...])`` chunks of a safetensors file, tensors in the given order."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, array in named_arrays:
        array = np.asarray(array)
        dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
        key = _DTYPE_NAMES.get(np.dtype(dtype).newbyteorder("<") if dtype.itemsize > 1 else dtype)
        if key is None:
            raise ValueError(f"cannot save tensor {name!r} of dtype {array.dtype} to safetensors")
        data = np.ascontiguousarray(array, dtype=SAFETENSORS_DTYPES[key]).tobytes()
        if name in header:
            raise ValueError(f"duplicate tensor name {name!r}")
        header[name] = {"dtype": key, "shape": [int(d) for d in array.shape],
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)
    return [struct.pack("<Q", len(head)) + head] + chunks


def safetensors_bytes(named_arrays, metadata=None) -> bytes:
    return b"".join(encode_safetensors(named_arrays, metadata))


def decode_safetensors(data: bytes, what: str = "safetensors file"):
    """``(list of (name, array) in file order, metadata dict)``; checks every size before use."""
    if len(data) < 8:
        raise FileFormatError(f"{what} is truncated: {len(data)} bytes, too short for a header")
    (size,) = struct.unpack("<Q", data[:8])
    if size > MAX_JSON_BYTES:
        raise FileFormatError(f"{what} declares a {size}-byte header, over the limit of {MAX_JSON_BYTES} bytes")
    if 8 + size > len(data):
        raise FileFormatError(f"{what} is truncated: the header needs {size} bytes, {len(data) - 8} are there")
    header = loads_json(data[8:8 + size], f"the header of {what}")
    if not isinstance(header, dict):
        raise FileFormatError(f"the header of {what} is not a JSON object")
    buffer = memoryview(data)[8 + size:]
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise FileFormatError(f"the __metadata__ of {what} must map strings to strings")
    entries = []
    for name, info in header.items():
        if len(name) > MAX_NAME_CHARS:
            raise FileFormatError(f"{what}: a tensor name is {len(name)} characters long")
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise FileFormatError(f"{what}: tensor {name!r} needs exactly dtype, shape and data_offsets")
        dtype = SAFETENSORS_DTYPES.get(info["dtype"]) if isinstance(info["dtype"], str) else None
        if dtype is None:
            raise FileFormatError(f"{what}: tensor {name!r} has unsupported dtype {info['dtype']!r}")
        shape, offsets = info["shape"], info["data_offsets"]
        if (not isinstance(shape, list) or len(shape) > MAX_TENSOR_DIMS
                or not all(type(d) is int and 0 <= d for d in shape)):
            raise FileFormatError(f"{what}: tensor {name!r} has an invalid shape {shape!r}")
        if (not isinstance(offsets, list) or len(offsets) != 2 or not all(type(o) is int for o in offsets)
                or not 0 <= offsets[0] <= offsets[1] <= len(buffer)):
            raise FileFormatError(f"{what}: tensor {name!r} has data offsets {offsets!r} outside the "
                                  f"{len(buffer)}-byte data section (truncated file?)")
        count = 1
        for d in shape:
            count *= d
        if count * dtype.itemsize != offsets[1] - offsets[0]:
            raise FileFormatError(f"{what}: tensor {name!r} of shape {shape} and dtype {info['dtype']} needs "
                                  f"{count * dtype.itemsize} bytes, its offsets give {offsets[1] - offsets[0]}")
        entries.append((offsets[0], offsets[1], name, dtype, tuple(shape)))
    entries.sort()
    end = 0
    for start, stop, name, _, _ in entries:
        if start < end:
            raise FileFormatError(f"{what}: tensor {name!r} overlaps the previous tensor's data")
        end = stop
    if end != len(buffer):
        raise FileFormatError(f"{what}: the data section has {len(buffer)} bytes, the tensors cover {end}")
    arrays = [(name, np.frombuffer(buffer[start:stop], dtype=dtype).reshape(shape).astype(dtype.newbyteorder("=")))
              for start, stop, name, dtype, shape in entries]
    return arrays, dict(metadata)


# --------------------------------------------------------------------- zip
def read_zip(path, expected: dict, what: str = "model file") -> dict:
    """Read the members of the zip at ``path``: ``expected`` maps allowed names to
    ``(required, max_bytes)``. Returns ``{name: bytes}``. Never extracts to disk."""
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, struct.error,
            NotImplementedError, UnicodeDecodeError) as error:
        raise FileFormatError(f"{path}: not a valid {what} (zip archive): {error}") from error
    with archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        for name in names:
            if "/" in name or "\\" in name or ".." in name or name.startswith(("/", "~")) or ":" in name:
                raise FileFormatError(f"{path}: member name {name!r} is a path; {what}s hold only "
                                      f"{sorted(expected)}")
            if name not in expected:
                raise FileFormatError(f"{path}: unexpected member {name!r}; {what}s hold only {sorted(expected)}")
        if len(set(names)) != len(names):
            raise FileFormatError(f"{path}: duplicate members in {names}")
        missing = [n for n, (required, _) in expected.items() if required and n not in names]
        if missing:
            raise FileFormatError(f"{path}: missing member(s) {missing}")
        out = {}
        for info in infos:
            limit = expected[info.filename][1]
            if info.file_size > limit:
                raise FileFormatError(f"{path}: member {info.filename!r} is {info.file_size} bytes uncompressed, "
                                      f"over the limit of {limit} bytes")
            if info.compress_type != zipfile.ZIP_STORED and \
                    info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1) + 4096:
                raise FileFormatError(f"{path}: member {info.filename!r} expands {info.file_size} bytes from "
                                      f"{info.compress_size} (compression ratio over {MAX_COMPRESSION_RATIO}: "
                                      f"zip bomb?)")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise FileFormatError(f"{path}: member {info.filename!r} uses unsupported compression "
                                      f"{info.compress_type}")
            if info.flag_bits & 0x1:
                raise FileFormatError(f"{path}: member {info.filename!r} is encrypted")
            try:
                with archive.open(info) as stream:
                    data = stream.read(info.file_size + 1)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error, NotImplementedError,
                    RuntimeError, UnicodeDecodeError, Exception) as error:
                raise FileFormatError(f"{path}: member {info.filename!r} is corrupted: {error}") from error
            if len(data) != info.file_size:
                raise FileFormatError(f"{path}: member {info.filename!r} has {len(data)} bytes, its header says "
                                      f"{info.file_size}")
            out[info.filename] = data
        return out


# ----------------------------------------------------------------- atomic
def atomic_write(path, write) -> None:
    """Call ``write(file)`` on a temporary file next to ``path``, fsync it, then ``os.replace``
    it onto ``path``: readers see the old file or the new one, never a partial one."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
