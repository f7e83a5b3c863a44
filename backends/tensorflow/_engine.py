"""Import TensorFlow quietly and choose the device new tensors live on.

The only place in the backend that imports ``tensorflow``; every other module takes
``tf`` from here, so the logging level and device visibility are set exactly once,
before TensorFlow's runtime starts.

``HIGHLEVEL_DEVICE``: ``"cpu"`` hides every GPU; ``"gpu"``, ``"gpu:N"`` or
``"cuda:N"`` keeps only GPU ``N`` visible (it then shows up as ``/GPU:0``); unset
leaves TensorFlow's own placement (the first GPU when there is one).
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings

from ..protocol import InvalidArgumentError

# TensorFlow prints pages of C++ start-up logs unless told otherwise; a user's own
# setting wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: Start-up lines TensorFlow's C++ runtime writes to stderr even at log level 2
#: (absl logs them before its log level is read).
_BANNER = ("All log messages before absl::InitializeLog() is called", "oneDNN custom operations are on")


def _import_tensorflow():
    """``import tensorflow`` with its start-up banner removed from stderr.

    The C++ runtime writes straight to file descriptor 2, so the descriptor is
    pointed at a temporary file during the import; every line that is not part of
    the banner is written back afterwards, so no real message is lost.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable stderr descriptor (embedded interpreters)
        import tensorflow
        return tensorflow
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", errors="replace")
    kept = [line for line in text.splitlines() if line.strip() and not any(b in line for b in _BANNER)]
    if kept:
        sys.stderr.write("\n".join(kept) + "\n")
    return tensorflow


tf = _import_tensorflow()


def _select_device() -> str:
    """Apply ``HIGHLEVEL_DEVICE`` and return the name of the default device."""
    request = os.environ.get("HIGHLEVEL_DEVICE", "").strip().lower()
    gpus = tf.config.list_physical_devices("GPU")
    if not request:
        return "/GPU:0" if gpus else "/CPU:0"
    if request == "cpu":
        chosen = []
    elif request.split(":")[0] in ("gpu", "cuda"):
        index_text = request.partition(":")[2] or "0"
        if not index_text.isdigit():
            raise InvalidArgumentError(f"HIGHLEVEL_DEVICE={request!r}: expected 'cpu', 'gpu', 'gpu:N' or 'cuda:N'")
        index = int(index_text)
        if index >= len(gpus):
            raise InvalidArgumentError(f"HIGHLEVEL_DEVICE={request!r}: TensorFlow sees {len(gpus)} GPU(s); "
                                       "use HIGHLEVEL_DEVICE=cpu or install a GPU build of TensorFlow")
        chosen = [gpus[index]]
    else:
        raise InvalidArgumentError(f"HIGHLEVEL_DEVICE={request!r}: expected 'cpu', 'gpu', 'gpu:N' or 'cuda:N'")
    if gpus:
        try:
            tf.config.set_visible_devices(chosen, "GPU")
        except RuntimeError as error:
            # The runtime was started before highlevel was imported; visibility is fixed now.
            warnings.warn(f"HIGHLEVEL_DEVICE={request!r} ignored: TensorFlow is already initialized ({error})",
                          RuntimeWarning, stacklevel=2)
            return "/GPU:0" if tf.config.get_visible_devices("GPU") else "/CPU:0"
    return "/GPU:0" if chosen else "/CPU:0"


DEVICE = _select_device()

# Full float32 on GPUs (TensorFlow enables TF32 on Ampere+ by default), so results agree
# with the NumPy reference within float32 tolerance; HIGHLEVEL_ALLOW_TF32=1 re-enables it.
if DEVICE.startswith("/GPU"):
    tf.config.experimental.enable_tensor_float_32_execution(os.environ.get("HIGHLEVEL_ALLOW_TF32", "") == "1")


def device() -> str:
    """Where new tensors are placed: ``"/GPU:0"`` or ``"/CPU:0"``."""
    return DEVICE


__all__ = ["tf", "device", "DEVICE"]
