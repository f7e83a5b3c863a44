"""The native .hl format, .weights.safetensors files, JSON configs, clone_model and FileFormatError.

Run once per backend (HIGHLEVEL_BACKEND=numpy|torch|tensorflow). Values are compared with the
original model's predictions/weights and with the reference ``safetensors`` package.
"""

import importlib.util
import json
import os
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import highlevel as hl
from highlevel.saving import FileFormatError
from highlevel.saving.file_format import safetensors_bytes

RNG = np.random.default_rng(0)
X = RNG.random((12, 4)).astype("float32")
Y = RNG.random((12, 2)).astype("float32")


def _predict(model, x=X):
    return np.asarray(model.predict(x, verbose=0))


def _sequential(compiled=True):
    model = hl.Sequential([hl.Input((4,)), hl.layers.Dense(6, activation="relu"), hl.layers.Dense(2)])
    if compiled:
        model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return model


@hl.saving.register_serializable(package="TestSavingNative")
class Scale(hl.layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def call(self, x):
        return x * self.w * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@hl.saving.register_serializable(package="TestSavingNative")
class TwoTower(hl.Model):
    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.a = hl.layers.Dense(units)
        self.b = hl.layers.Dense(units)
        self.scale = Scale(0.5)

    def call(self, x):
        return self.scale(self.a(x) + self.b(x))

    def get_config(self):
        return {"name": self.name, "units": self.units}


def _functional():
    inp = hl.Input((4,))
    shared = hl.layers.Dense(5, activation="tanh", name="shared")
    inner = hl.Sequential([hl.Input((5,)), hl.layers.Dense(3, name="inner_dense")], name="inner")
    a = inner(shared(inp))
    b = inner(shared(hl.layers.Dense(4, name="pre")(inp)))
    out = Scale(3.0, name="scale")(hl.layers.Add()([a, b]))
    return hl.Model(inp, out, name="func")


# ----------------------------------------------------------------------- round trips
def test_sequential_round_trip_and_continued_training(tmp_path):
    model = _sequential()
    model.fit(X, Y, epochs=2, batch_size=4, verbose=0, shuffle=False)
    path = tmp_path / "model.hl"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["config.json", "model.weights.safetensors", "optimizer.safetensors"]
        config = json.loads(archive.read("config.json"))
    assert config["backend"] == hl.backend.name() and config["highlevel_version"] == hl.__version__
    assert config["compile_config"]["loss"] == "mse"
    loaded = hl.models.load_model(path)
    assert type(loaded) is hl.Sequential and loaded.compiled
    np.testing.assert_array_equal(_predict(loaded), _predict(model))
    # Optimizer state came along: the next steps give identical weights.
    assert int(np.asarray(loaded.optimizer.iterations.numpy())) == int(np.asarray(model.optimizer.iterations.numpy()))
    for m in (model, loaded):
        m.fit(X, Y, epochs=1, batch_size=4, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_load_without_compile(tmp_path):
    model = _sequential()
    model.fit(X, Y, epochs=1, verbose=0)
    model.save(tmp_path / "m.hl")
    loaded = hl.models.load_model(tmp_path / "m.hl", compile=False)
    assert not loaded.compiled
    np.testing.assert_array_equal(_predict(loaded), _predict(model))


def test_functional_shared_nested_custom_layer(tmp_path):
    model = _functional()
    model.set_weights([RNG.normal(size=w.shape).astype(w.dtype) for w in model.get_weights()])
    model.save(tmp_path / "f.hl")
    loaded = hl.models.load_model(tmp_path / "f.hl")
    assert [w.path for w in loaded.weights] == [w.path for w in model.weights]
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    np.testing.assert_allclose(_predict(loaded), _predict(model), rtol=1e-6)


def test_subclassed_model_with_get_config(tmp_path):
    model = TwoTower(units=3, name="towers")
    model.compile(optimizer="sgd", loss="mse")
    model.fit(X, Y[:, :1].repeat(3, axis=1), epochs=1, verbose=0)
    model.save(tmp_path / "s.hl")
    loaded = hl.models.load_model(tmp_path / "s.hl")
    assert type(loaded) is TwoTower and loaded.units == 3
    np.testing.assert_allclose(_predict(loaded), _predict(model), rtol=1e-6)


def test_custom_objects_resolves_unregistered_class(tmp_path):
    class Plain(hl.layers.Dense):
        pass

    hl.saving.register_serializable(package="TestSavingNativeTmp")(Plain)
    model = hl.Sequential([hl.Input((4,)), Plain(2, name="plain")])
    model.save(tmp_path / "p.hl")
    # Rewrite the registered name to one the registry does not know; custom_objects supplies it.
    path = tmp_path / "p.hl"
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    members["config.json"] = members["config.json"].replace(b"TestSavingNativeTmp>Plain", b"Elsewhere>Plain2")
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(FileFormatError, match=r"Elsewhere>Plain2.*register_serializable"):
        hl.models.load_model(path)
    loaded = hl.models.load_model(path, custom_objects={"Elsewhere>Plain2": Plain})
    np.testing.assert_allclose(_predict(loaded), _predict(model), rtol=1e-6)


def test_overwrite_and_suffix(tmp_path):
    model = _sequential(compiled=False)
    model.save(tmp_path / "a.hl")
    with pytest.raises(FileExistsError):
        model.save(tmp_path / "a.hl", overwrite=False)
    with pytest.raises(ValueError, match=r"\.hl"):
        model.save(tmp_path / "a.zip")
    with pytest.raises(ValueError, match=r"weights\.safetensors"):
        model.save_weights(tmp_path / "a.npz")
    assert sorted(os.listdir(tmp_path)) == ["a.hl"]  # no temporary files left behind


# ---------------------------------------------------------------------- weights files
def test_weights_file_matches_reference_safetensors(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    model = _functional()
    path = tmp_path / "w.weights.safetensors"
    model.save_weights(path)
    reference = st.load_file(str(path))
    assert set(reference) == {w.path for w in model.weights}
    for w in model.weights:
        np.testing.assert_array_equal(reference[w.path], w.numpy())
    # Keras order is the file order.
    with open(path, "rb") as handle:
        (size,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(size))
    header.pop("__metadata__", None)
    assert sorted(header, key=lambda k: header[k]["data_offsets"][0]) == [w.path for w in model.weights]
    # A file written by the reference library loads too.
    fresh = _functional()
    st.save_file({k: v * 2 for k, v in reference.items()}, str(tmp_path / "ref.weights.safetensors"))
    fresh.load_weights(tmp_path / "ref.weights.safetensors")
    for w in fresh.weights:
        np.testing.assert_array_equal(w.numpy(), reference[w.path] * 2)


def test_load_weights_into_differently_named_model_by_order(tmp_path):
    model = _sequential(compiled=False)
    model.save_weights(tmp_path / "w.weights.safetensors")
    other = _sequential(compiled=False)  # auto names dense_2, ... differ: matched by order
    other.load_weights(tmp_path / "w.weights.safetensors")
    np.testing.assert_array_equal(_predict(other), _predict(model))
    other2 = _sequential(compiled=False)
    model.save(tmp_path / "m.hl")
    other2.load_weights(tmp_path / "m.hl")
    np.testing.assert_array_equal(_predict(other2), _predict(model))


def test_load_weights_mismatch_names_path_and_shapes(tmp_path):
    model = _sequential(compiled=False)
    model.save_weights(tmp_path / "w.weights.safetensors")
    wide = hl.Sequential([hl.Input((4,)), hl.layers.Dense(7, name="d7"), hl.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"d7/kernel.*\(4, 7\).*\(4, 6\)"):
        wide.load_weights(tmp_path / "w.weights.safetensors")
    short = hl.Sequential([hl.Input((4,)), hl.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"holds 4 weights.*expects 2"):
        short.load_weights(tmp_path / "w.weights.safetensors")


# ------------------------------------------------------------------------- JSON/clone
def test_json_round_trip_and_clone(tmp_path):
    for model in (_sequential(compiled=False), _functional(), TwoTower(units=2, name="tt")):
        if not model.built:
            model.build((None, 4))
        text = model.to_json()
        assert json.loads(text)["backend"] == hl.backend.name()
        rebuilt = hl.models.model_from_json(text)
        clone = hl.models.clone_model(model)
        for other in (rebuilt, clone):
            assert type(other) is type(model)
            assert [tuple(w.shape) for w in other.weights] == [tuple(w.shape) for w in model.weights]
            assert json.loads(other.to_json())["config"]["name"] == model.name
        kernels = [w for w in clone.weights if "kernel" in w.path]
        assert any(not np.array_equal(a.numpy(), b.numpy())
                   for a, b in zip(kernels, [w for w in model.weights if "kernel" in w.path]))
        clone.set_weights(model.get_weights())
        np.testing.assert_allclose(_predict(clone), _predict(model), rtol=1e-6)


# -------------------------------------------------------------------------- errors
def _rezip(src, dst, change=None, extra=None, drop=()):
    with zipfile.ZipFile(src) as archive:
        members = {n: archive.read(n) for n in archive.namelist() if n not in drop}
    if change:
        members.update(change)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "m.hl"
    model = _sequential()
    model.fit(X, Y, epochs=1, verbose=0)
    model.save(path)
    return path


def _config(path):
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))


def test_error_is_value_error():
    assert issubclass(FileFormatError, ValueError) and hl.saving.FileFormatError is FileFormatError


@pytest.mark.parametrize("case", ["empty", "truncated", "not_zip", "missing_weights", "unexpected_member",
                                  "traversal", "absolute", "bomb", "bad_json", "json_bomb", "deep_json",
                                  "wrong_format", "unknown_class", "wrong_shape", "wrong_dtype",
                                  "big_header", "truncated_weights", "overlap", "huge_shape", "extra_weight"])
def test_damaged_files_raise_file_format_error(saved, tmp_path, case):
    bad = tmp_path / "bad.hl"
    raw = saved.read_bytes()
    with zipfile.ZipFile(saved) as archive:
        weights = archive.read("model.weights.safetensors")
    arrays = [(name, arr) for name, arr in hl.saving.file_format.decode_safetensors(weights)[0]]
    config = _config(saved)
    if case == "empty":
        bad.write_bytes(b"")
    elif case == "truncated":
        bad.write_bytes(raw[: len(raw) // 2])
    elif case == "not_zip":
        bad.write_bytes(b"\x89HDF\r\n" + raw[6:])
    elif case == "missing_weights":
        _rezip(saved, bad, drop=("model.weights.safetensors",))
    elif case == "unexpected_member":
        _rezip(saved, bad, extra={"payload.pkl": b"cos\nsystem\n"})
    elif case == "traversal":
        _rezip(saved, bad, extra={"../../evil.txt": b"x"})
    elif case == "absolute":
        _rezip(saved, bad, extra={"/tmp/evil.txt": b"x"})
    elif case == "bomb":
        _rezip(saved, bad, change={"config.json": json.dumps(config).encode() + b" " * 50_000_000})
    elif case == "bad_json":
        _rezip(saved, bad, change={"config.json": b"{\"format\": "})
    elif case == "json_bomb":
        _rezip(saved, bad, change={"config.json": b"[" + b"1," * 9_000_000 + b"1]"})
    elif case == "deep_json":
        _rezip(saved, bad, change={"config.json": b"[" * 100_000 + b"]" * 100_000})
    elif case == "wrong_format":
        _rezip(saved, bad, change={"config.json": json.dumps({"format": "other"}).encode()})
    elif case == "unknown_class":
        text = json.dumps(config).replace("highlevel>Dense", "mypkg>NotThere").replace('"Dense"', '"NotThere"')
        _rezip(saved, bad, change={"config.json": text.encode()})
    elif case == "wrong_shape":
        arrays[0] = (arrays[0][0], np.zeros((3, 3), "float32"))
        _rezip(saved, bad, change={"model.weights.safetensors": safetensors_bytes(arrays)})
    elif case == "wrong_dtype":
        arrays[0] = (arrays[0][0], arrays[0][1].astype("int32"))
        _rezip(saved, bad, change={"model.weights.safetensors": safetensors_bytes(arrays)})
    elif case == "big_header":
        _rezip(saved, bad, change={"model.weights.safetensors": struct.pack("<Q", 2**62) + weights[8:]})
    elif case == "truncated_weights":
        _rezip(saved, bad, change={"model.weights.safetensors": weights[:-5]})
    elif case == "overlap":
        size = struct.unpack("<Q", weights[:8])[0]
        header = json.loads(weights[8:8 + size])
        first = min(header, key=lambda k: header[k]["data_offsets"][0])
        header[first]["data_offsets"] = [4, 4 + header[first]["data_offsets"][1]]
        head = json.dumps(header).encode()
        patched = struct.pack("<Q", len(head)) + head + weights[8 + size:]
        _rezip(saved, bad, change={"model.weights.safetensors": patched})
    elif case == "huge_shape":
        head = json.dumps({"k": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 4]}}).encode()
        _rezip(saved, bad, change={"model.weights.safetensors": struct.pack("<Q", len(head)) + head + b"\0" * 4})
    elif case == "extra_weight":
        arrays.append(("extra/w", np.zeros((2,), "float32")))
        _rezip(saved, bad, change={"model.weights.safetensors": safetensors_bytes(arrays)})
    with pytest.raises(FileFormatError) as info:
        hl.models.load_model(bad)
    message = str(info.value)
    if case == "unknown_class":
        assert "NotThere" in message and "register_serializable" in message
    if case in ("traversal", "absolute"):
        assert "evil.txt" in message
    if case == "bomb":
        assert "ratio" in message or "limit" in message
    assert not os.path.exists(tmp_path / "evil.txt") and sorted(os.listdir(tmp_path)) == ["bad.hl"]


def test_load_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        hl.models.load_model(tmp_path / "nope.hl")


def test_model_from_json_rejects_garbage():
    for text in ("", "[1,", "[]", '{"class_name": "Nope", "config": {}}', "[" * 10_000):
        with pytest.raises(FileFormatError):
            hl.models.model_from_json(text)


# ------------------------------------------------------------------- cross-backend
BACKENDS = ("numpy", "torch", "tensorflow")
_ENGINES = {"numpy": "numpy", "torch": "torch", "tensorflow": "tensorflow"}
_SAVE_SCRIPT = r"""
import sys, numpy as np, highlevel as hl
out = sys.argv[1]
hl.utils.set_random_seed(7) if hasattr(hl.utils, "set_random_seed") else None
rng = np.random.default_rng(1)
model = hl.Sequential([hl.Input((4,)), hl.layers.Dense(6, activation="relu"), hl.layers.Dense(2)])
model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.weights])
model.compile(optimizer="adam", loss="mse")
x = rng.random((8, 4)).astype("float32")
model.fit(x, rng.random((8, 2)).astype("float32"), epochs=1, verbose=0)
model.save(out + ".hl")
np.save(out + ".x.npy", x)
np.save(out + ".y.npy", np.asarray(model.predict(x, verbose=0)))
"""


@pytest.fixture(scope="session")
def cross_backend_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cross_backend")
    env_base = {**os.environ, "OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    procs = {}
    for backend in BACKENDS:
        if importlib.util.find_spec(_ENGINES[backend]) is None:
            continue
        procs[backend] = subprocess.Popen([sys.executable, "-c", _SAVE_SCRIPT, str(folder / backend)],
                                          env={**env_base, "HIGHLEVEL_BACKEND": backend},
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    results = {}
    for backend, proc in procs.items():
        output, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, output.decode(errors="replace")[-3000:]
        results[backend] = folder / backend
    return results


@pytest.mark.parametrize("source", BACKENDS)
def test_cross_backend_load(cross_backend_files, source):
    if source not in cross_backend_files:
        pytest.skip(f"engine {_ENGINES[source]!r} is not installed, cannot save under {source}")
    prefix = str(cross_backend_files[source])
    model = hl.models.load_model(prefix + ".hl")
    x, expected = np.load(prefix + ".x.npy"), np.load(prefix + ".y.npy")
    np.testing.assert_allclose(_predict(model, x), expected, rtol=1e-5, atol=1e-6)
    assert int(np.asarray(model.optimizer.iterations.numpy())) == 1


def test_batchnorm_frozen_layer_and_schedule_round_trip(tmp_path):
    schedules = hl.optimizers.schedules
    model = hl.Sequential([hl.Input((4,)), hl.layers.Dense(5), hl.layers.BatchNormalization(),
                           hl.layers.Dense(2, name="head")])  # no Dropout: its RNG would differ
    model.layers[0].trainable = False
    model.compile(optimizer=hl.optimizers.SGD(schedules.ExponentialDecay(0.1, 10, 0.5), momentum=0.9), loss="mse")
    model.fit(X, Y, epochs=2, batch_size=4, verbose=0, shuffle=False)
    model.save(tmp_path / "bn.hl")
    loaded = hl.models.load_model(tmp_path / "bn.hl")
    assert [w.path for w in loaded.non_trainable_weights] == [w.path for w in model.non_trainable_weights]
    assert not loaded.layers[0].trainable
    np.testing.assert_allclose(_predict(loaded), _predict(model), rtol=1e-5, atol=1e-6)
    for m in (model, loaded):
        m.fit(X, Y, epochs=1, batch_size=4, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_saving_unregistered_custom_layer_says_how_to_register(tmp_path):
    class Unregistered(hl.layers.Layer):
        def call(self, x):
            return x * 2

    model = hl.Sequential([hl.Input((4,)), Unregistered(), hl.layers.Dense(2)])
    with pytest.raises(ValueError, match="register_serializable"):
        model.save(tmp_path / "u.hl")
    assert os.listdir(tmp_path) == []


def test_config_declaring_huge_weights_is_refused_before_allocation(tmp_path):
    """A config edited to ask for a 10^12-element kernel fails fast with FileFormatError."""
    import json
    import zipfile

    model = hl.Sequential([hl.Input((4,)), hl.layers.Dense(3)])
    path = tmp_path / "small.hl"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    text = json.dumps(config).replace('"units": 3', '"units": 1000000000000')
    assert text != json.dumps(config)
    members["config.json"] = text.encode()
    hostile = tmp_path / "hostile.hl"
    with zipfile.ZipFile(hostile, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(hl.saving.FileFormatError, match="elements"):
        hl.models.load_model(hostile)
