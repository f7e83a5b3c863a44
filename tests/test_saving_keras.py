"""Two-way Keras 3 file compatibility: ``.keras`` archives and ``.weights.h5`` files.

Keras itself (KERAS_BACKEND=tensorflow) is the independent reference: it opens what
highlevel writes and writes what highlevel opens; predictions must agree.
"""

import json
import os
import zipfile

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
keras = pytest.importorskip("keras")
h5py = pytest.importorskip("h5py")

import highlevel as hl  # noqa: E402
from highlevel.saving import keras_format  # noqa: E402
from highlevel.saving.file_format import FileFormatError  # noqa: E402

ATOL = 2e-5


# ------------------------------------------------------------------ models
def hl_sequential():
    return hl.Sequential([hl.Input((8, 8, 3)), hl.layers.Conv2D(4, 3, activation="relu"),
                          hl.layers.BatchNormalization(), hl.layers.MaxPooling2D(), hl.layers.Flatten(),
                          hl.layers.Dropout(0.5), hl.layers.Dense(5, activation="tanh"), hl.layers.Dense(2)])


def keras_sequential():
    L = keras.layers
    return keras.Sequential([keras.Input((8, 8, 3)), L.Conv2D(4, 3, activation="relu"), L.BatchNormalization(),
                             L.MaxPooling2D(), L.Flatten(), L.Dropout(0.5), L.Dense(5, activation="tanh"),
                             L.Dense(2)])


def hl_functional():
    i = hl.Input((6,), dtype="int32")
    e = hl.layers.Embedding(10, 4)(i)
    s = hl.layers.LSTM(3, return_sequences=True)(e)
    g = hl.layers.GRU(2)(s)
    d = hl.layers.Dense(3, activation="relu")(g)
    return hl.Model(i, hl.layers.Dense(1)(d))


def keras_functional():
    L = keras.layers
    i = keras.Input((6,), dtype="int32")
    e = L.Embedding(10, 4)(i)
    s = L.LSTM(3, return_sequences=True)(e)
    g = L.GRU(2)(s)
    d = L.Dense(3, activation="relu")(g)
    return keras.Model(i, L.Dense(1)(d))


def _merge_model(lib):
    L = lib.layers
    a, b = lib.Input((5,), name="a"), lib.Input((3,), name="b")
    inner = lib.Sequential([lib.Input((5,)), L.Dense(4, activation="relu"), L.Dense(3)])
    h = L.Add()([inner(a), L.Dense(3)(b)])
    h = L.LayerNormalization()(L.Concatenate()([h, b]))
    h = L.Activation("relu")(h)
    return lib.Model([a, b], [L.Dense(1)(h), L.Dense(2, activation="softmax")(h)])


def _recurrent_conv_model(lib):
    L = lib.layers
    i = lib.Input((8, 3))
    h = L.Conv1D(4, 3, padding="same")(i)
    h = L.AveragePooling1D(2)(h)
    h = L.Bidirectional(L.LSTM(2, return_sequences=True))(h)
    h = L.SimpleRNN(3)(h)
    return lib.Model(i, L.Dense(2)(h))


def _attention_model(lib):
    L = lib.layers
    i = lib.Input((4, 6))
    h = L.MultiHeadAttention(2, 3)(i, i)
    h = L.GroupNormalization(2)(L.Add()([h, i]))
    h = L.TimeDistributed(L.Dense(3))(h)
    h = L.GRU(2, reset_after=False)(h)
    return lib.Model(i, L.Dense(1)(h))


CASES = {
    "attention": (lambda: _attention_model(hl), lambda: _attention_model(keras),
                  lambda rng: rng.normal(size=(3, 4, 6)).astype("float32")),
    "merge_nested": (lambda: _merge_model(hl), lambda: _merge_model(keras),
                     lambda rng: [rng.normal(size=(3, 5)).astype("float32"),
                                  rng.normal(size=(3, 3)).astype("float32")]),
    "recurrent_conv": (lambda: _recurrent_conv_model(hl), lambda: _recurrent_conv_model(keras),
                       lambda rng: rng.normal(size=(3, 8, 3)).astype("float32")),
    "sequential": (hl_sequential, keras_sequential,
                   lambda rng: rng.normal(size=(3, 8, 8, 3)).astype("float32")),
    "functional": (hl_functional, keras_functional,
                   lambda rng: rng.integers(0, 10, size=(3, 6)).astype("int32")),
}


def randomize(model, seed):
    """Non-trivial weights (positive variances), in ``weights`` order."""
    rng = np.random.default_rng(seed)
    values = []
    for w in model.get_weights():
        v = rng.normal(size=w.shape).astype(w.dtype) * 0.4
        values.append(v)
    for variable, value in zip(model.weights, values):
        if "variance" in getattr(variable, "path", "") or "variance" in getattr(variable, "name", ""):
            value[...] = np.abs(value) + 0.5
    model.set_weights(values)


def _stack(outputs):
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return np.concatenate([np.asarray(o).reshape(len(o), -1) for o in outputs], axis=1)


def predict_hl(model, x):
    return _stack(model.predict(x, verbose=0))


def predict_keras(model, x):
    return _stack(model.predict(x, verbose=0))


@pytest.fixture(params=sorted(CASES))
def case(request):
    make_hl, make_keras, make_x = CASES[request.param]
    return make_hl, make_keras, make_x(np.random.default_rng(0))


# ------------------------------------------------------- highlevel -> Keras
def test_keras_loads_highlevel_archive(case, tmp_path):
    make_hl, _, x = case
    model = make_hl()
    randomize(model, 1)
    path = tmp_path / "m.keras"
    keras_format.save_keras(model, path)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        config = json.loads(archive.read("config.json"))
    assert config["class_name"] in ("Sequential", "Functional") and config["module"].startswith("keras")
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(predict_keras(loaded, x), predict_hl(model, x), atol=ATOL)
    # Keras reads the weights in the same order as highlevel's model.weights.
    for mine, theirs in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(mine, theirs)


def test_keras_loads_highlevel_weights_h5(case, tmp_path):
    make_hl, make_keras, x = case
    model = make_hl()
    randomize(model, 2)
    path = tmp_path / "w.weights.h5"
    keras_format.save_weights_h5(model, path)
    target = make_keras()
    target.load_weights(path)
    np.testing.assert_allclose(predict_keras(target, x), predict_hl(model, x), atol=ATOL)


# ------------------------------------------------------- Keras -> highlevel
def test_highlevel_loads_keras_archive(case, tmp_path):
    _, make_keras, x = case
    source = make_keras()
    randomize(source, 3)
    path = tmp_path / "k.keras"
    source.save(path)
    model = keras_format.load_keras(path)
    assert isinstance(model, hl.Model)
    np.testing.assert_allclose(predict_hl(model, x), predict_keras(source, x), atol=ATOL)
    assert [type(layer).__name__ for layer in model.layers] == [type(layer).__name__ for layer in source.layers]


def test_highlevel_loads_keras_weights_h5(case, tmp_path):
    make_hl, make_keras, x = case
    source = make_keras()
    randomize(source, 4)
    path = tmp_path / "k.weights.h5"
    source.save_weights(path)
    model = make_hl()
    keras_format.load_weights_h5(model, path)
    np.testing.assert_allclose(predict_hl(model, x), predict_keras(source, x), atol=ATOL)


def test_highlevel_round_trip_through_keras_files(tmp_path):
    model = hl_functional()
    randomize(model, 5)
    x = np.random.default_rng(1).integers(0, 10, size=(2, 6)).astype("int32")
    keras_format.save_keras(model, tmp_path / "a.keras")
    again = keras_format.load_keras(tmp_path / "a.keras")
    np.testing.assert_allclose(predict_hl(again, x), predict_hl(model, x), atol=ATOL)
    keras_format.save_weights_h5(model, tmp_path / "a.weights.h5")
    fresh = hl_functional()
    keras_format.load_weights_h5(fresh, tmp_path / "a.weights.h5")
    for a, b in zip(fresh.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------- public API and training state
def _data():
    rng = np.random.default_rng(7)
    return rng.normal(size=(16, 3)).astype("float32"), rng.normal(size=(16, 2)).astype("float32")


def test_model_save_keras_compiled_continues_training_in_keras(tmp_path):
    x, y = _data()
    model = hl.Sequential([hl.Input((3,)), hl.layers.Dense(4, activation="relu"), hl.layers.Dense(2)])
    model.compile(optimizer=hl.optimizers.Adam(1e-2), loss="mse", metrics=["mae"])
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    path = tmp_path / "trained.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert int(loaded.optimizer.iterations.numpy()) == 4
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    loaded.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    for mine, theirs in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(mine, theirs, atol=1e-5)


def test_load_model_keras_compiled_continues_training_in_highlevel(tmp_path):
    x, y = _data()
    source = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(2)])
    source.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse", metrics=["mae"])
    source.fit(x, y, epochs=2, batch_size=8, verbose=0)
    path = tmp_path / "trained.keras"
    source.save(path)
    model = hl.models.load_model(path)
    assert model.compiled and int(np.asarray(model.optimizer.iterations.numpy())) == 4
    np.testing.assert_allclose(predict_hl(model, x), predict_keras(source, x), atol=ATOL)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    source.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    for mine, theirs in zip(model.get_weights(), source.get_weights()):
        np.testing.assert_allclose(mine, theirs, atol=1e-5)
    uncompiled = hl.models.load_model(path, compile=False)
    assert not uncompiled.compiled


def test_model_save_weights_h5_dispatch(tmp_path):
    x = np.random.default_rng(3).normal(size=(3, 8, 8, 3)).astype("float32")
    model = hl_sequential()
    randomize(model, 8)
    model.save_weights(tmp_path / "m.weights.h5")
    fresh = hl_sequential()
    fresh.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_allclose(predict_hl(fresh, x), predict_hl(model, x), atol=ATOL)
    target = keras_sequential()
    target.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_allclose(predict_keras(target, x), predict_hl(model, x), atol=ATOL)


# ------------------------------------------------------------------- safety
def test_lambda_archive_is_refused(tmp_path):
    i = keras.Input((3,))
    o = keras.layers.Lambda(lambda t: t * 2)(i)
    path = tmp_path / "lambda.keras"
    keras.Model(i, o).save(path)
    with pytest.raises(FileFormatError, match="Lambda"):
        keras_format.load_keras(path)


def _rewrite_config(src, dst, edit):
    with zipfile.ZipFile(src) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    edit(config)
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(dst, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_unknown_class_is_refused(tmp_path):
    src = tmp_path / "k.keras"
    keras_sequential().save(src)

    def edit(config):
        config["config"]["layers"][2]["class_name"] = "NoSuchLayer"
        config["config"]["layers"][2]["module"] = "my_package.evil"

    _rewrite_config(src, tmp_path / "bad.keras", edit)
    with pytest.raises(FileFormatError, match="NoSuchLayer"):
        keras_format.load_keras(tmp_path / "bad.keras")

    def edit_module(config):
        config["config"]["layers"][2]["module"] = "my_package.layers"  # a known class name, foreign module

    _rewrite_config(src, tmp_path / "bad2.keras", edit_module)
    with pytest.raises(FileFormatError, match="my_package"):
        hl.models.load_model(tmp_path / "bad2.keras")


@hl.saving.register_serializable(package="KerasFormatTest")
def _double(x):
    return x * 2


def test_unsupported_models_are_refused_when_writing(tmp_path):
    i = hl.Input((3,))
    with_lambda = hl.Model(i, hl.layers.Lambda(_double)(i))
    with pytest.raises(FileFormatError, match="Lambda"):
        with_lambda.save(tmp_path / "lambda.keras")

    @hl.saving.register_serializable(package="KerasFormatTest")
    class Custom(hl.layers.Dense):
        pass

    j = hl.Input((3,))
    custom = hl.Model(j, Custom(2)(j))
    with pytest.raises(FileFormatError, match="Custom"):
        custom.save(tmp_path / "custom.keras")
    assert not (tmp_path / "custom.keras").exists() and not (tmp_path / "lambda.keras").exists()


def test_custom_registered_keras_object_is_refused(tmp_path):
    src = tmp_path / "k.keras"
    keras_sequential().save(src)

    def edit(config):
        config["config"]["layers"][2]["registered_name"] = "MyPackage>Dense"

    _rewrite_config(src, tmp_path / "bad.keras", edit)
    with pytest.raises(FileFormatError, match="MyPackage>Dense"):
        keras_format.load_keras(tmp_path / "bad.keras")


def test_h5_external_link_is_refused(tmp_path):
    model = hl_sequential()
    path = tmp_path / "w.weights.h5"
    keras_format.save_weights_h5(model, path)
    with h5py.File(tmp_path / "other.h5", "w") as other:
        other.create_dataset("x", data=np.zeros((5,), "float32"))
    with h5py.File(path, "a") as f:
        del f["layers/dense_1/vars/1"]
        f["layers/dense_1/vars/1"] = h5py.ExternalLink(str(tmp_path / "other.h5"), "x")
    with pytest.raises(FileFormatError, match="ExternalLink"):
        keras_format.load_weights_h5(hl_sequential(), path)


def test_h5_external_storage_is_refused(tmp_path):
    model = hl_sequential()
    path = tmp_path / "w.weights.h5"
    keras_format.save_weights_h5(model, path)
    raw = tmp_path / "raw.bin"
    raw.write_bytes(np.zeros((2,), "float32").tobytes())
    with h5py.File(path, "a") as f:
        del f["layers/dense_1/vars/1"]
        f.create_dataset("layers/dense_1/vars/1", shape=(2,), dtype="float32", external=[(str(raw), 0, 8)])
    with pytest.raises(FileFormatError, match="external"):
        keras_format.load_weights_h5(hl_sequential(), path)


def test_mismatched_weights_file_is_refused_before_assigning(tmp_path):
    path = tmp_path / "w.weights.h5"
    keras_format.save_weights_h5(hl_functional(), path)
    model = hl_sequential()
    before = model.get_weights()
    with pytest.raises(FileFormatError):
        keras_format.load_weights_h5(model, path)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_not_an_archive_is_refused(tmp_path):
    path = tmp_path / "junk.keras"
    path.write_bytes(b"not a zip file at all")
    with pytest.raises(FileFormatError):
        keras_format.load_keras(path)
    h5 = tmp_path / "junk.weights.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 50)
    with pytest.raises(FileFormatError):
        keras_format.load_weights_h5(hl_sequential(), h5)


def test_mutated_files_load_or_raise_file_format_error(tmp_path):
    """Byte flips and truncations of a weights file and of config.json: each load either succeeds
    or raises FileFormatError (deterministic seeds)."""
    import io
    import warnings

    model = hl.Sequential([hl.Input((4,)), hl.layers.Dense(3), hl.layers.BatchNormalization(), hl.layers.Dense(2)])
    buffer = io.BytesIO()
    keras_format._write_h5(model, buffer)
    data = buffer.getvalue()
    rng = np.random.default_rng(0)
    for case in range(150):
        mutated = bytearray(data)
        if case % 4 == 0:
            mutated = mutated[:int(rng.integers(0, len(mutated)))]
        else:
            for _ in range(int(rng.integers(1, 8))):
                mutated[int(rng.integers(0, len(mutated)))] = int(rng.integers(0, 256))
        try:
            keras_format._read_h5(model, io.BytesIO(bytes(mutated)), f"case {case}")
        except FileFormatError:
            pass

    source = tmp_path / "source.keras"
    keras_format.save_keras(model, source)
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = members["config.json"]
    alphabet = list(b'{}[]":,0123456789abcelnrstu ')
    for case in range(100):
        mutated = bytearray(config)
        for _ in range(int(rng.integers(1, 4))):
            mutated[int(rng.integers(0, len(mutated)))] = int(rng.choice(alphabet))
        path = tmp_path / "mutated.keras"
        with zipfile.ZipFile(path, "w") as archive:
            for name, value in members.items():
                archive.writestr(name, bytes(mutated) if name == "config.json" else value)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                keras_format.load_keras(path)
        except FileFormatError:
            pass


def test_keras_config_declaring_huge_weights_is_refused_before_allocation(tmp_path):
    model = hl.Sequential([hl.Input((4,)), hl.layers.Dense(3)])
    path = tmp_path / "small.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    text = members["config.json"].decode()
    hostile_text = text.replace('"units": 3', '"units": 1000000000000')
    assert hostile_text != text
    members["config.json"] = hostile_text.encode()
    hostile = tmp_path / "hostile.keras"
    with zipfile.ZipFile(hostile, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(FileFormatError, match="elements"):
        hl.models.load_model(hostile)
