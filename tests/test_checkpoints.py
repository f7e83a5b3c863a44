"""ModelCheckpoint and BackupAndRestore (issue 5), run once per backend.

The kill-and-resume test is real: a training script in a subprocess SIGKILLs itself in
the middle of an epoch, is started again with the same command, resumes from the backup
and must end with the weights of an uninterrupted run (bitwise on NumPy).
"""

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import highlevel as hl

BACKEND = hl.backend.name()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TRAIN_SCRIPT = textwrap.dedent('''
    import os, signal, sys
    import numpy as np
    import highlevel as hl

    backup_dir, out_path, save_freq, kill_at = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    save_freq = save_freq if save_freq == "epoch" else int(save_freq)
    hl.utils.set_random_seed(0)
    rng = np.random.RandomState(1)
    x = rng.normal(size=(40, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]], "float32") + 0.1).astype("float32")
    model = hl.Sequential([hl.Input((3,)), hl.layers.Dense(4, activation="tanh"), hl.layers.Dense(1)])
    model.compile(optimizer=hl.optimizers.Adam(0.05), loss="mse")

    class Trace(hl.callbacks.Callback):
        epochs, batches = [], 0
        def on_epoch_begin(self, epoch, logs=None):
            self.epochs.append(epoch)
        def on_train_batch_end(self, batch, logs=None):
            Trace.batches += 1

    class Killer(hl.callbacks.Callback):
        """SIGKILLs the process at (epoch, batch) the first time: no cleanup, no on_train_end."""
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
        def on_train_batch_end(self, batch, logs=None):
            if kill_at != "none" and f"{self.epoch},{batch}" == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    callbacks = [hl.callbacks.BackupAndRestore(backup_dir, save_freq=save_freq), Killer(), Trace()]
    model.fit(x, y, batch_size=8, epochs=4, shuffle=True, verbose=0, callbacks=callbacks)
    np.savez(out_path, *model.get_weights())
    print("TRACE", Trace.epochs, Trace.batches)
''')


def _run(script, *args):
    env = dict(os.environ, HIGHLEVEL_BACKEND=BACKEND, OMP_NUM_THREADS="1", PYTHONPATH=ROOT,
               TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, str(script), *map(str, args)], env=env, capture_output=True, text=True,
                          timeout=120)


def _weights(path):
    with np.load(path, allow_pickle=False) as data:
        return [data[f"arr_{i}"] for i in range(len(data.files))]


def test_backup_and_restore_resumes_after_sigkill(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(TRAIN_SCRIPT)
    reference = _run(script, tmp_path / "ref_backup", tmp_path / "ref.npz", "epoch", "none")
    assert reference.returncode == 0, reference.stderr
    assert "TRACE [0, 1, 2, 3] 20" in reference.stdout
    want = _weights(tmp_path / "ref.npz")
    # 5 batches an epoch. save_freq=3 (batches counted across epochs): the last backup before the kill
    # (after batch 3 of epoch 2) was after batch 1 of epoch 2, so 3 batches of epoch 2 and all of epoch 3
    # remain. save_freq="epoch": the kill in epoch 1 falls back to the end of epoch 0.
    for save_freq, kill_at, trace in ((3, "2,3", "TRACE [2, 3] 8"), ("epoch", "1,2", "TRACE [1, 2, 3] 15")):
        backup, out = tmp_path / f"backup_{save_freq}", tmp_path / f"out_{save_freq}.npz"
        killed = _run(script, backup, out, save_freq, kill_at)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        assert not out.exists()
        assert [p.name for p in backup.iterdir()] == ["backup.npz"]   # the backup survived, no temp files
        # The same command again: it resumes (the kill point is passed this time) and finishes.
        resumed = _run(script, backup, out, save_freq, "none")
        assert resumed.returncode == 0, resumed.stderr
        assert trace in resumed.stdout, resumed.stdout
        assert not backup.exists()                                       # delete_checkpoint=True
        got = _weights(out)
        assert len(got) == len(want) == 4
        for g, w in zip(got, want):
            if BACKEND == "numpy":
                np.testing.assert_array_equal(g, w)
            else:
                np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def _data():
    rng = np.random.RandomState(0)
    x = rng.normal(size=(32, 3)).astype("float32")
    y = (x.sum(axis=1, keepdims=True) > 0).astype("float32")
    return x, y


def _model():
    hl.utils.set_random_seed(0)
    model = hl.Sequential([hl.Input((3,)), hl.layers.Dense(4, activation="relu"), hl.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


def test_backup_restores_state_in_process(tmp_path):
    """A backup left by a run restores weights and optimizer slots, and fit starts at the saved epoch."""
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, shuffle=False,
              callbacks=[hl.callbacks.BackupAndRestore(tmp_path, delete_checkpoint=False)])
    assert (tmp_path / "backup.npz").exists()
    saved = model.get_weights()
    saved_slots = [v.numpy() for v in model.optimizer.variables]

    other = _model()
    other(x[:1])
    epochs_seen = []
    cb = hl.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: epochs_seen.append(epoch))
    restorer = hl.callbacks.BackupAndRestore(tmp_path, delete_checkpoint=False)

    class Check(hl.callbacks.Callback):
        def on_train_begin(self, logs=None):
            pass

        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                for a, b in zip(self.model.get_weights(), saved):
                    np.testing.assert_array_equal(a, b)
                for v, s in zip(self.model.optimizer.variables, saved_slots):
                    np.testing.assert_array_equal(v.numpy(), s)

    other.fit(x, y, epochs=3, batch_size=8, verbose=0, shuffle=False, callbacks=[restorer, cb, Check()])
    assert epochs_seen == [2]
    # Continuing the first model for one more epoch gives the same weights.
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_backup_rejects_a_mismatched_model(tmp_path):
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0,
              callbacks=[hl.callbacks.BackupAndRestore(tmp_path, delete_checkpoint=False)])
    hl.utils.set_random_seed(0)
    wider = hl.Sequential([hl.Input((3,)), hl.layers.Dense(5), hl.layers.Dense(1)])
    wider.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="shape"):
        wider.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[hl.callbacks.BackupAndRestore(tmp_path)])


def test_backup_file_is_data_only(tmp_path):
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0,
              callbacks=[hl.callbacks.BackupAndRestore(tmp_path, delete_checkpoint=False)])
    with np.load(tmp_path / "backup.npz", allow_pickle=False) as data:   # no pickled objects inside
        meta = json.loads(bytes(data["meta"]).decode())
    assert meta["epoch"] == 1 and meta["step"] == 0
    assert [p.name for p in tmp_path.iterdir()] == ["backup.npz"]        # no temp files left behind


def test_callbacks_validate_arguments():
    with pytest.raises(ValueError):
        hl.callbacks.BackupAndRestore("")
    with pytest.raises(ValueError):
        hl.callbacks.BackupAndRestore("x", save_freq=0)
    with pytest.raises(ValueError):
        hl.callbacks.ModelCheckpoint("x", save_freq="batch")


# ------------------------------------------------------------------ ModelCheckpoint
def _val_data():
    rng = np.random.RandomState(5)
    x = rng.normal(size=(16, 3)).astype("float32")
    return x, (x.sum(axis=1, keepdims=True) > 0).astype("float32")


def test_model_checkpoint_template_names_and_loadable_files(tmp_path):
    x, y = _data()
    model = _model()
    template = str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.3f}.hl")
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, validation_data=_val_data(),
                        callbacks=[hl.callbacks.ModelCheckpoint(template)])
    expected = sorted(f"ckpt-{e + 1:02d}-{v:.3f}.hl" for e, v in enumerate(history.history["val_loss"]))
    assert sorted(p.name for p in tmp_path.iterdir()) == expected
    loaded = hl.models.load_model(tmp_path / expected[-1])
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)


def test_model_checkpoint_save_best_only_keeps_the_best_epoch(tmp_path):
    x, y = _data()
    model = _model()
    per_epoch = []
    record = hl.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: per_epoch.append(model.get_weights()))
    path = tmp_path / "best.weights.safetensors"
    # A noisy validation set (random targets) so that val_loss goes up and down.
    vx = np.random.RandomState(9).normal(size=(16, 3)).astype("float32")
    vy = np.random.RandomState(10).normal(size=(16, 1)).astype("float32")
    history = model.fit(x, y, epochs=6, batch_size=4, verbose=0, validation_data=(vx, vy),
                        callbacks=[hl.callbacks.ModelCheckpoint(path, save_best_only=True, save_weights_only=True,
                                                                mode="min"), record])
    best = int(np.argmin(history.history["val_loss"]))
    fresh = _model()
    fresh(x[:1])
    fresh.load_weights(path)
    for got, want in zip(fresh.get_weights(), per_epoch[best]):
        np.testing.assert_array_equal(got, want)


def test_model_checkpoint_threshold_missing_monitor_and_batch_freq(tmp_path):
    x, y = _data()
    model = _model()
    # val_loss can never beat 0: nothing is written.
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, validation_data=_val_data(),
              callbacks=[hl.callbacks.ModelCheckpoint(tmp_path / "never.hl", save_best_only=True,
                                                      initial_value_threshold=0.0)])
    assert list(tmp_path.iterdir()) == []
    with pytest.warns(UserWarning, match="val_loss"):
        model.fit(x, y, epochs=1, batch_size=8, verbose=0,
                  callbacks=[hl.callbacks.ModelCheckpoint(tmp_path / "m.hl", save_best_only=True)])
    assert list(tmp_path.iterdir()) == []
    # Every 3 batches, counted across epochs (4 batches an epoch, 2 epochs: after batches 3 and 6).
    model.fit(x, y, epochs=2, batch_size=8, verbose=0,
              callbacks=[hl.callbacks.ModelCheckpoint(tmp_path / "w-{epoch}-{batch}.weights.safetensors",
                                                      save_weights_only=True, save_freq=3)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w-1-3.weights.safetensors", "w-2-2.weights.safetensors"]
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_model_checkpoint_mode_auto_maximizes_accuracy(tmp_path):
    x, y = _data()
    hl.utils.set_random_seed(0)
    model = hl.Sequential([hl.Input((3,)), hl.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    checkpoint = hl.callbacks.ModelCheckpoint(tmp_path / "m.hl", monitor="accuracy", save_best_only=True)
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[checkpoint])
    assert checkpoint.best == max(history.history["accuracy"])
    assert (tmp_path / "m.hl").exists()


def test_callback_configs_round_trip():
    from highlevel.saving import registry
    for callback in (hl.callbacks.ModelCheckpoint("m-{epoch}.hl", monitor="loss", save_best_only=True, save_freq=5,
                                                  initial_value_threshold=1.5),
                     hl.callbacks.BackupAndRestore("backups", save_freq=7, delete_checkpoint=False)):
        again = registry.deserialize(registry.serialize(callback))
        assert type(again) is type(callback) and again.get_config() == callback.get_config()
