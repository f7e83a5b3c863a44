"""``BackupAndRestore``: resume a training run that was interrupted (killed, preempted).

The backup is one ``.npz`` file (data only, loaded with ``allow_pickle=False``) holding
the model's weights, the optimizer's variables, NumPy's global random state as it was
at the start of the epoch in progress (it decides the shuffle order), and a JSON
record of where training stood. It is written atomically (temp file in the same folder,
fsync, ``os.replace``), so a kill during a write leaves the previous backup intact.
"""

from __future__ import annotations

import json
import os
import tempfile

import numpy as np

from highlevel.callbacks.callback import Callback
from highlevel.saving import registry

_FILE = "backup.npz"
_FORMAT = "highlevel.backup/1"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic_savez(path: str, arrays: dict) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


@registry.register_serializable(package="highlevel")
class BackupAndRestore(Callback):
    """Back up the training state to ``backup_dir`` and restore it when ``fit`` starts again.

    save_freq: ``"epoch"`` (at the end of every epoch) or an int (every that many
    batches; a resumed run then skips the batches of the interrupted epoch that were
    already trained on, in the same shuffle order). delete_checkpoint: remove the
    backup when ``fit`` ends normally (so a finished run does not "resume" next time).

    Restoring needs a built model (call it on data or ``model.build(shape)`` first).
    A run restarted with the same script and data ends with the same weights as an
    uninterrupted one (random ops inside the model such as dropout aside).
    """

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("BackupAndRestore: backup_dir must be a non-empty path")
        if save_freq != "epoch" and (not isinstance(save_freq, int) or isinstance(save_freq, bool)
                                     or save_freq <= 0):
            raise ValueError(f"BackupAndRestore: save_freq must be 'epoch' or a positive int, got {save_freq!r}")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.delete_checkpoint = bool(delete_checkpoint)
        self._path = os.path.join(self.backup_dir, _FILE)
        self._epoch = 0
        self._batches_seen = 0     # batches done in the current epoch
        self._since_save = 0
        self._epoch_rng = None

    # ------------------------------------------------------------------ state
    def _state_variables(self):
        model = self.model
        optimizer = getattr(model, "optimizer", None)
        opt_vars = list(optimizer.variables) if optimizer is not None and getattr(optimizer, "built", False) else []
        return list(model.weights), opt_vars

    def _save(self, epoch, step):
        weights, opt_vars = self._state_variables()
        arrays = {f"w{i}": np.asarray(v.numpy()) for i, v in enumerate(weights)}
        arrays.update({f"o{i}": np.asarray(v.numpy()) for i, v in enumerate(opt_vars)})
        rng = self._epoch_rng
        meta = {"format": _FORMAT, "epoch": int(epoch), "step": int(step), "num_weights": len(weights),
                "num_optimizer_variables": len(opt_vars), "rng": None}
        if rng is not None:
            meta["rng"] = {"kind": rng[0], "pos": int(rng[2]), "has_gauss": int(rng[3]),
                           "cached_gaussian": float(rng[4])}
            arrays["rng_key"] = np.asarray(rng[1], dtype=np.uint32)
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
        _atomic_savez(self._path, arrays)

    def _restore(self):
        with np.load(self._path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode("utf-8"))
            if meta.get("format") != _FORMAT:
                raise ValueError(f"BackupAndRestore: {self._path} is not a highlevel backup ({meta.get('format')!r})")
            weights, opt_vars = self._state_variables()
            optimizer = getattr(self.model, "optimizer", None)
            if meta["num_optimizer_variables"] and not opt_vars and optimizer is not None:
                optimizer.build(self.model.trainable_weights)
                weights, opt_vars = self._state_variables()
            if meta["num_weights"] != len(weights) or meta["num_optimizer_variables"] != len(opt_vars):
                raise ValueError(f"BackupAndRestore: the backup in {self._path} holds {meta['num_weights']} weights "
                                 f"and {meta['num_optimizer_variables']} optimizer variables, but the model has "
                                 f"{len(weights)} and its optimizer {len(opt_vars)}; was it made by another model?")
            for prefix, variables in (("w", weights), ("o", opt_vars)):
                for i, variable in enumerate(variables):
                    value = data[f"{prefix}{i}"]
                    if tuple(value.shape) != tuple(variable.shape):
                        raise ValueError(f"BackupAndRestore: backup value {prefix}{i} has shape {value.shape}, "
                                         f"variable {getattr(variable, 'path', i)!r} has {tuple(variable.shape)}")
                    variable.assign(value)
            if meta.get("rng") is not None:
                rng = meta["rng"]
                np.random.set_state((rng["kind"], data["rng_key"], rng["pos"], rng["has_gauss"],
                                     rng["cached_gaussian"]))
        return meta["epoch"], meta["step"]

    # ------------------------------------------------------------------ hooks
    def on_train_begin(self, logs=None):
        self._epoch, self._batches_seen, self._since_save = 0, 0, 0
        if not os.path.exists(self._path):
            return
        if not self.model.built:
            raise ValueError("BackupAndRestore: the model must be built before fit() to restore a backup; call it "
                             "on a batch of data or call model.build(input_shape) first")
        epoch, step = self._restore()
        # fit() reads this right after on_train_begin: the epoch to start at and the batches to skip.
        self.model.__dict__["_resume_from"] = (epoch, step)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epoch_rng = np.random.get_state()
        self._batches_seen = 0

    def on_train_batch_end(self, batch, logs=None):
        self._batches_seen = batch + 1
        if self.save_freq == "epoch":
            return
        self._since_save += 1
        if self._since_save >= self.save_freq:
            self._since_save = 0
            if self._batches_seen != (self.params or {}).get("steps"):
                self._save(self._epoch, self._batches_seen)
            # else: the epoch's last batch; on_epoch_end saves the next epoch's start right after

    def on_epoch_end(self, epoch, logs=None):
        # Also with an int save_freq: an epoch boundary is the cheapest point to resume from.
        self._epoch_rng = np.random.get_state()
        self._save(epoch + 1, 0)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.exists(self._path):
            os.remove(self._path)
            try:
                os.rmdir(self.backup_dir)
            except OSError:
                pass

    def get_config(self):
        return {"backup_dir": self.backup_dir, "save_freq": self.save_freq,
                "delete_checkpoint": self.delete_checkpoint}
