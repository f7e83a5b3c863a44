"""``image_dataset_from_directory`` / ``text_dataset_from_directory`` against Keras and closed forms.

Small trees of PNG/JPEG/BMP/GIF and text files are written in tmp dirs. Keras
(``KERAS_BACKEND=tensorflow``) is the reference for file order, labels, subsets and pixels:
PNG/BMP/GIF pixels after every interpolation agree to 1e-3 on the 0..255 scale (measured:
≤ 1.3e-4, float32 summation order); JPEG pixels equal TF's ``INTEGER_ACCURATE`` decode (Keras's
default fast IDCT is a few levels off, bounded below). Keras shuffles the first epoch again
inside tf.data, so shuffled batches are compared as sets; ``file_paths`` must match exactly.
All of this is backend-independent NumPy code (numpy pass); training with ``fit`` on a
directory dataset runs on every backend.
"""

import os

import numpy as np
import pytest

import highlevel as hl

BACKEND = os.environ.get("HIGHLEVEL_BACKEND", "numpy")
numpy_pass_only = pytest.mark.skipif(BACKEND != "numpy",
                                     reason="backend-independent NumPy code; tested in the numpy pass")
Image = pytest.importorskip("PIL.Image")
RESIZE_ATOL = 1e-3


def keras():
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    return pytest.importorskip("keras")


def tf():
    keras()
    return pytest.importorskip("tensorflow")


def keras_batches(dataset):
    """A Keras tf.data dataset as a list of NumPy batches (tuples when it has labels)."""
    out = []
    for batch in dataset:
        out.append(tuple(part.numpy() for part in batch) if isinstance(batch, tuple) else batch.numpy())
    return out


def our_batches(dataset):
    return [dataset[i] for i in range(len(dataset))]


def write_image(path, pixels, **save_kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, **save_kwargs)


@pytest.fixture(scope="module")
def png_tree(tmp_path_factory):
    """3 classes of random RGB PNGs of varied sizes (one nested deeper), plus files Keras ignores."""
    root = tmp_path_factory.mktemp("png_tree")
    rng = np.random.default_rng(0)
    for label, (name, count) in enumerate([("cat", 5), ("dog", 4), ("eel", 3)]):
        for i in range(count):
            write_image(root / name / f"img_{i}.png", rng.integers(0, 256, (9 + i, 11 + label, 3), dtype=np.uint8))
        write_image(root / name / "nested" / "deep.png", rng.integers(0, 256, (6, 7, 3), dtype=np.uint8))
        (root / name / "notes.txt").write_text("not an image")
    write_image(root / ".hidden" / "x.png", np.zeros((4, 4, 3), dtype=np.uint8))  # hidden: no class
    return root


@pytest.fixture(scope="module")
def jpeg_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("jpeg_tree")
    rng = np.random.default_rng(1)
    for name in ("a", "b"):
        for i in range(3):
            write_image(root / name / f"{i}.jpg", rng.integers(0, 256, (12, 10, 3), dtype=np.uint8), quality=90)
    return root


# ------------------------------------------------------------------ pixels


@numpy_pass_only
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5",
                                           "gaussian", "mitchellcubic"])
def test_png_batches_match_keras_for_every_interpolation(png_tree, interpolation):
    kwargs = dict(batch_size=5, image_size=(8, 13), shuffle=False, interpolation=interpolation, verbose=False)
    ours = hl.utils.image_dataset_from_directory(str(png_tree), **kwargs)
    theirs = keras().utils.image_dataset_from_directory(str(png_tree), **kwargs)
    assert ours.file_paths == theirs.file_paths and ours.class_names == theirs.class_names == ["cat", "dog", "eel"]
    assert len(ours) == 3  # 15 files in batches of 5
    for (x, y), (keras_x, keras_y) in zip(our_batches(ours), keras_batches(theirs), strict=True):
        assert x.dtype == np.float32 and x.shape == keras_x.shape
        np.testing.assert_allclose(x, keras_x.astype(np.float32), rtol=0, atol=RESIZE_ATOL)
        assert y.dtype == np.int32
        np.testing.assert_array_equal(y, keras_y)


@numpy_pass_only
@pytest.mark.parametrize("size", [(256, 256), (13, 29)])
def test_resize_matches_tf_image_resize_at_larger_scales(size):
    # Measured worst cases on 0..255: nearest exact, bilinear 3e-5, bicubic/lanczos/gaussian/mitchellcubic
    # <= 2.3e-4, area <= 5e-3 (TF accumulates area sums in float32 in another order).
    from highlevel.utils import image_resize
    image = np.random.default_rng(6).integers(0, 256, (64, 48, 3), dtype=np.uint8)
    for method in image_resize.INTERPOLATIONS:
        expected = tf().image.resize(image, size, method=method).numpy().astype(np.float32)
        atol = {"nearest": 0.0, "area": 1e-2}.get(method, 1e-3)
        np.testing.assert_allclose(image_resize.resize(image, size, method), expected, rtol=0, atol=atol,
                                   err_msg=method)


@numpy_pass_only
def test_resizing_closed_forms(tmp_path):
    # Same size: the pixels themselves. Upsampling a 1x2 image to 1x4 with half-pixel centres:
    # [a, 3a/4 + b/4, a/4 + 3b/4, b] (bilinear) and [a, a, b, b] (nearest).
    pixels = np.array([[[10, 20, 30], [50, 100, 200]]], dtype=np.uint8)
    write_image(tmp_path / "only" / "x.png", pixels)
    same = hl.utils.image_dataset_from_directory(str(tmp_path), image_size=(1, 2), verbose=False)[0][0]
    np.testing.assert_array_equal(same[0], pixels.astype(np.float32))
    a, b = pixels[0, 0].astype(np.float64), pixels[0, 1].astype(np.float64)
    wide = hl.utils.image_dataset_from_directory(str(tmp_path), image_size=(1, 4), verbose=False)[0][0][0, 0]
    np.testing.assert_allclose(wide, [a, 0.75 * a + 0.25 * b, 0.25 * a + 0.75 * b, b], atol=1e-4)
    nearest = hl.utils.image_dataset_from_directory(str(tmp_path), image_size=(1, 4), interpolation="nearest",
                                                    verbose=False)[0][0][0, 0]
    np.testing.assert_array_equal(nearest, [a, a, b, b])
    # Downsampling 2 -> 1 with "area" averages; a constant image stays constant under every method.
    area = hl.utils.image_dataset_from_directory(str(tmp_path), image_size=(1, 1), interpolation="area",
                                                 verbose=False)[0][0][0, 0, 0]
    np.testing.assert_allclose(area, (a + b) / 2, atol=1e-4)
    write_image(tmp_path / "only" / "x.png", np.full((5, 7, 3), 77, dtype=np.uint8))
    for method in ("bilinear", "bicubic", "lanczos5", "gaussian", "mitchellcubic", "area"):
        flat = hl.utils.image_dataset_from_directory(str(tmp_path), image_size=(3, 11), interpolation=method,
                                                     verbose=False)[0][0]
        np.testing.assert_allclose(flat, 77.0, atol=1e-3)


@numpy_pass_only
def test_jpeg_pixels_are_tfs_accurate_decode_and_near_keras(jpeg_tree):
    tensorflow = tf()
    ours = hl.utils.image_dataset_from_directory(str(jpeg_tree), image_size=(7, 9), shuffle=False, batch_size=None,
                                                 verbose=False)
    theirs = keras().utils.image_dataset_from_directory(str(jpeg_tree), image_size=(7, 9), shuffle=False,
                                                        batch_size=None, verbose=False)
    for index, (keras_x, _) in enumerate(keras_batches(theirs)):
        x, _ = ours[index]
        data = tensorflow.io.read_file(ours.file_paths[index])
        decoded = tensorflow.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE")
        accurate = tensorflow.image.resize(decoded, (7, 9)).numpy()
        np.testing.assert_allclose(x, accurate, atol=RESIZE_ATOL)
        # Keras's default (fast) IDCT: measured within 7 levels, 1.5 on average, for these files.
        assert np.abs(x - keras_x).max() <= 10 and np.abs(x - keras_x).mean() <= 2.5


@numpy_pass_only
def test_grayscale_and_rgba_and_other_formats_match_keras(tmp_path):
    rng = np.random.default_rng(2)
    write_image(tmp_path / "c0" / "rgb.png", rng.integers(0, 256, (8, 9, 3), dtype=np.uint8))
    write_image(tmp_path / "c0" / "gray.png", rng.integers(0, 256, (8, 9), dtype=np.uint8))
    write_image(tmp_path / "c0" / "alpha.png", rng.integers(0, 256, (8, 9, 4), dtype=np.uint8))
    write_image(tmp_path / "c1" / "img.bmp", rng.integers(0, 256, (8, 9, 3), dtype=np.uint8))
    palette = Image.fromarray(rng.integers(0, 256, (8, 9, 3), dtype=np.uint8)).convert("P")
    palette.save(tmp_path / "c1" / "img.gif")
    for color_mode in ("rgb", "grayscale", "rgba"):
        # TF cannot decode a BMP to 1 channel nor a GIF to 4 (we can, with Pillow): those modes compare PNGs.
        classes = None if color_mode == "rgb" else ["c0"]
        kwargs = dict(image_size=(5, 12), shuffle=False, color_mode=color_mode, batch_size=2, verbose=False,
                      class_names=classes)
        ours = hl.utils.image_dataset_from_directory(str(tmp_path), **kwargs)
        theirs = keras().utils.image_dataset_from_directory(str(tmp_path), **kwargs)
        assert len(ours.file_paths) == (3 if classes else 5)
        for (x, _), (keras_x, _) in zip(our_batches(ours), keras_batches(theirs), strict=True):
            assert x.shape[-1] == {"rgb": 3, "grayscale": 1, "rgba": 4}[color_mode]
            np.testing.assert_allclose(x, keras_x, atol=RESIZE_ATOL, err_msg=color_mode)


@numpy_pass_only
@pytest.mark.parametrize("option", ["crop_to_aspect_ratio", "pad_to_aspect_ratio"])
def test_aspect_ratio_options_match_keras(png_tree, option):
    for size in ((6, 14), (14, 5)):
        kwargs = dict(image_size=size, shuffle=False, batch_size=16, verbose=False, **{option: True})
        ours = hl.utils.image_dataset_from_directory(str(png_tree), **kwargs)
        theirs = keras().utils.image_dataset_from_directory(str(png_tree), **kwargs)
        np.testing.assert_allclose(ours[0][0], keras_batches(theirs)[0][0], atol=RESIZE_ATOL)


@numpy_pass_only
def test_channels_first(png_tree):
    last = hl.utils.image_dataset_from_directory(str(png_tree), image_size=(4, 6), shuffle=False, verbose=False)
    first = hl.utils.image_dataset_from_directory(str(png_tree), image_size=(4, 6), shuffle=False, verbose=False,
                                                  data_format="channels_first")
    np.testing.assert_array_equal(first[0][0], np.transpose(last[0][0], (0, 3, 1, 2)))


# ------------------------------------------------------------------ labels, order, subsets


@numpy_pass_only
@pytest.mark.parametrize("label_mode", ["int", "categorical", None])
def test_label_modes_match_keras(png_tree, label_mode):
    kwargs = dict(image_size=(4, 4), shuffle=False, batch_size=4, label_mode=label_mode, verbose=False)
    ours = our_batches(hl.utils.image_dataset_from_directory(str(png_tree), **kwargs))
    theirs = keras_batches(keras().utils.image_dataset_from_directory(str(png_tree), **kwargs))
    for mine, keras_batch in zip(ours, theirs, strict=True):
        if label_mode is None:
            assert isinstance(mine, np.ndarray)
            np.testing.assert_allclose(mine, keras_batch, atol=RESIZE_ATOL)
        else:
            assert mine[1].dtype == keras_batch[1].dtype
            np.testing.assert_array_equal(mine[1], keras_batch[1])


@numpy_pass_only
def test_binary_labels_and_class_names_order(png_tree):
    kwargs = dict(image_size=(4, 4), shuffle=False, batch_size=32, label_mode="binary", class_names=["eel", "cat"],
                  verbose=False)
    ours = hl.utils.image_dataset_from_directory(str(png_tree), **kwargs)
    theirs = keras().utils.image_dataset_from_directory(str(png_tree), **kwargs)
    assert ours.class_names == ["eel", "cat"] and ours.file_paths == theirs.file_paths
    x, y = ours[0]
    keras_x, keras_y = keras_batches(theirs)[0]
    assert y.dtype == np.float32 and y.shape == (len(ours.file_paths), 1)
    np.testing.assert_array_equal(y, keras_y)
    # Independent check: the label is the position of the file's folder in class_names.
    expected = [["eel", "cat"].index(os.path.relpath(path, png_tree).split(os.sep)[0]) for path in ours.file_paths]
    np.testing.assert_array_equal(y[:, 0], expected)


@numpy_pass_only
def test_seeded_shuffle_lists_keras_files_and_batches_hold_the_same_samples(png_tree):
    kwargs = dict(image_size=(5, 5), batch_size=4, seed=123, verbose=False)
    ours = hl.utils.image_dataset_from_directory(str(png_tree), **kwargs)
    theirs = keras().utils.image_dataset_from_directory(str(png_tree), **kwargs)
    assert ours.file_paths == theirs.file_paths
    assert ours.file_paths != sorted(ours.file_paths)

    def samples(batches):
        return sorted((int(label), np.round(image, 3).tobytes()) for x, y in batches for image, label in zip(x, y))

    first_epoch = our_batches(ours)
    keras_samples = samples(keras_batches(theirs))
    assert [label for label, _ in samples(first_epoch)] == [label for label, _ in keras_samples]
    for (label, image), (keras_label, keras_image) in zip(samples(first_epoch), keras_samples):
        np.testing.assert_allclose(np.frombuffer(image, np.float32), np.frombuffer(keras_image, np.float32),
                                   atol=2e-3)
    # Each later epoch is a new permutation of the same samples, labels still attached.
    ours.on_epoch_end()
    second_epoch = our_batches(ours)
    assert samples(second_epoch) == samples(first_epoch)
    assert [y.tolist() for _, y in second_epoch] != [y.tolist() for _, y in first_epoch]


@numpy_pass_only
def test_validation_subsets_match_keras_and_print_counts(png_tree, capsys):
    kwargs = dict(image_size=(4, 4), batch_size=4, seed=9, validation_split=0.3, verbose=True)
    train, validation = hl.utils.image_dataset_from_directory(str(png_tree), subset="both", **kwargs)
    printed = capsys.readouterr().out
    assert "Found 15 files belonging to 3 classes." in printed
    assert "Using 11 files for training." in printed and "Using 4 files for validation." in printed
    keras_train, keras_validation = keras().utils.image_dataset_from_directory(str(png_tree), subset="both",
                                                                               **kwargs)
    assert train.file_paths == keras_train.file_paths and validation.file_paths == keras_validation.file_paths
    assert not set(train.file_paths) & set(validation.file_paths)
    only_validation = hl.utils.image_dataset_from_directory(str(png_tree), subset="validation", **kwargs)
    assert only_validation.file_paths == validation.file_paths
    # The validation subset is not shuffled: its batches follow file_paths, as in Keras.
    keras_labels = np.concatenate([y for _, y in keras_batches(keras_validation)])
    np.testing.assert_array_equal(np.concatenate([y for _, y in our_batches(validation)]), keras_labels)


@numpy_pass_only
def test_explicit_labels_and_no_labels(png_tree):
    count = 16  # explicit labels index the whole tree, hidden folders included (as Keras)
    explicit = list(range(count))[::-1]
    kwargs = dict(image_size=(3, 3), shuffle=False, batch_size=count, verbose=False)
    ours = hl.utils.image_dataset_from_directory(str(png_tree), labels=explicit, **kwargs)
    theirs = keras().utils.image_dataset_from_directory(str(png_tree), labels=explicit, **kwargs)
    assert ours.file_paths == theirs.file_paths
    np.testing.assert_array_equal(ours[0][1], explicit)
    np.testing.assert_allclose(ours[0][0], keras_batches(theirs)[0][0], atol=RESIZE_ATOL)
    unlabeled = hl.utils.image_dataset_from_directory(str(png_tree), labels=None, **kwargs)
    assert isinstance(unlabeled[0], np.ndarray) and unlabeled.class_names is None


@numpy_pass_only
def test_batches_are_read_lazily(tmp_path):
    for i in range(6):
        write_image(tmp_path / "only" / f"{i}.png", np.full((3, 3, 3), i * 10, dtype=np.uint8))
    dataset = hl.utils.image_dataset_from_directory(str(tmp_path), image_size=(3, 3), batch_size=2, shuffle=False,
                                                    verbose=False)
    os.remove(tmp_path / "only" / "5.png")  # only the last batch needs it
    np.testing.assert_array_equal(dataset[0][0][:, 0, 0, 0], [0.0, 10.0])
    np.testing.assert_array_equal(dataset[1][0][:, 0, 0, 0], [20.0, 30.0])
    with pytest.raises(FileNotFoundError):
        dataset[2]
    with pytest.raises(IndexError, match="out of range"):
        dataset[3]
    assert len(dataset) == 3 and dataset[-3][1].tolist() == [0, 0]


@numpy_pass_only
@pytest.mark.parametrize("kwargs, error, message", [
    ({"color_mode": "cmyk"}, ValueError, "color_mode"),
    ({"image_size": (4,)}, ValueError, "image_size"),
    ({"image_size": (0, 4)}, ValueError, "image_size"),
    ({"interpolation": "cubic"}, ValueError, "interpolation"),
    ({"label_mode": "sparse"}, ValueError, "label_mode"),
    ({"label_mode": "binary"}, ValueError, "exactly 2"),
    ({"validation_split": 0.2}, ValueError, "subset"),
    ({"validation_split": 0.2, "subset": "training"}, ValueError, "seed"),
    ({"validation_split": 1.5, "subset": "training", "seed": 1}, ValueError, "validation_split"),
    ({"subset": "test", "validation_split": 0.2, "seed": 1}, ValueError, "subset"),
    ({"class_names": ["cat", "cow"]}, ValueError, "class_names"),
    ({"labels": "folders"}, ValueError, "labels"),
    ({"labels": None, "class_names": ["cat"]}, ValueError, "class_names"),
    ({"labels": [0, 1]}, ValueError, "one entry per file"),
    ({"crop_to_aspect_ratio": True, "pad_to_aspect_ratio": True}, ValueError, "only one"),
    ({"batch_size": 0}, ValueError, "batch_size"),
])
def test_image_argument_errors(png_tree, kwargs, error, message):
    with pytest.raises(error, match=message):
        hl.utils.image_dataset_from_directory(str(png_tree), verbose=False, **kwargs)


@numpy_pass_only
def test_missing_or_empty_directories(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        hl.utils.image_dataset_from_directory(str(tmp_path / "nowhere"))
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(ValueError, match="no images found"):
        hl.utils.image_dataset_from_directory(str(tmp_path), verbose=False)
    with pytest.raises(ValueError, match="no text files found"):
        hl.utils.text_dataset_from_directory(str(tmp_path), verbose=False)


@numpy_pass_only
def test_missing_pillow_names_the_extra(png_tree, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "PIL", None)
    dataset = hl.utils.image_dataset_from_directory(str(png_tree), image_size=(2, 2), verbose=False)
    with pytest.raises(ImportError, match=r'pip install "highlevel\[images\]"'):
        dataset[0]


# ------------------------------------------------------------------ text


@pytest.fixture(scope="module")
def text_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("text_tree")
    for name, count in (("neg", 5), ("pos", 4)):
        (root / name / "more").mkdir(parents=True)
        for i in range(count):
            (root / name / f"t{i}.txt").write_text(f"{name} review number {i}. " * (i + 1))
        (root / name / "more" / "deep.txt").write_text(f"deep {name}")
        (root / name / "skip.md").write_text("not a .txt file")
    return root


@numpy_pass_only
@pytest.mark.parametrize("label_mode", ["int", "binary", "categorical", None])
@pytest.mark.parametrize("max_length", [None, 12])
def test_text_batches_match_keras(text_tree, label_mode, max_length):
    kwargs = dict(batch_size=4, shuffle=False, label_mode=label_mode, max_length=max_length, verbose=False)
    ours = hl.utils.text_dataset_from_directory(str(text_tree), **kwargs)
    theirs = keras().utils.text_dataset_from_directory(str(text_tree), **kwargs)
    # Without labels there are no classes (Keras too), even though the files sit in class folders.
    assert ours.class_names == theirs.class_names == (None if label_mode is None else ["neg", "pos"])
    for mine, keras_batch in zip(our_batches(ours), keras_batches(theirs), strict=True):
        texts, keras_texts = (mine, keras_batch) if label_mode is None else (mine[0], keras_batch[0])
        assert texts.dtype == object and [t.decode() for t in keras_texts] == list(texts)
        if label_mode is not None:
            assert mine[1].dtype == keras_batch[1].dtype
            np.testing.assert_array_equal(mine[1], keras_batch[1])


@numpy_pass_only
def test_text_contents_labels_and_split_are_read_from_the_files(text_tree, capsys):
    train, validation = hl.utils.text_dataset_from_directory(str(text_tree), batch_size=None, seed=4,
                                                             validation_split=0.25, subset="both")
    assert "Found 11 files belonging to 2 classes." in capsys.readouterr().out
    assert len(train) == 9 and len(validation) == 2
    for dataset in (train, validation):
        for index, path in enumerate(dataset.file_paths):
            text, label = dataset[index]
            with open(path, encoding="utf-8") as file:
                assert text == file.read()
            assert label == ["neg", "pos"].index(os.path.relpath(path, text_tree).split(os.sep)[0])
    keras_train, keras_validation = keras().utils.text_dataset_from_directory(
        str(text_tree), batch_size=None, seed=4, validation_split=0.25, subset="both", verbose=False)
    assert sorted(t.decode() for t, _ in keras_batches(keras_train)) == sorted(train[i][0] for i in range(9))
    assert [t.decode() for t, _ in keras_batches(keras_validation)] == [validation[i][0] for i in range(2)]


@numpy_pass_only
def test_text_argument_errors(text_tree):
    with pytest.raises(ValueError, match="max_length"):
        hl.utils.text_dataset_from_directory(str(text_tree), max_length=-1)
    with pytest.raises(ValueError, match="label_mode"):
        hl.utils.text_dataset_from_directory(str(text_tree), label_mode="one_hot")


# ------------------------------------------------------------------ fit, on every backend


def test_fit_on_an_image_directory_matches_fit_on_the_same_arrays(tmp_path):
    # Two classes of flat-coloured 4x4 images; image_size is the file size, so the dataset's
    # pixels are the files' pixels, and training on it must equal training on those arrays.
    rng = np.random.default_rng(5)
    images, labels = [], []
    for label, name in enumerate(("dark", "light")):
        for i in range(6):
            pixels = np.clip(rng.normal(60 + 130 * label, 20, (4, 4, 3)), 0, 255).astype(np.uint8)
            write_image(tmp_path / name / f"{i}.png", pixels)
            images.append(pixels)
            labels.append(label)
    dataset = hl.utils.image_dataset_from_directory(str(tmp_path), image_size=(4, 4), batch_size=5, shuffle=False,
                                                    verbose=False)

    def model():
        hl.utils.set_random_seed(0)
        net = hl.Sequential([hl.Input((4, 4, 3)), hl.layers.Rescaling(1 / 255), hl.layers.Flatten(),
                             hl.layers.Dense(2, activation="softmax")])
        net.compile(optimizer=hl.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
        return net

    from_directory = model()
    history = from_directory.fit(dataset, epochs=3, shuffle=False, verbose=0).history["loss"]
    from_arrays = model()
    expected = from_arrays.fit(np.stack(images).astype(np.float32), np.array(labels), batch_size=5, epochs=3,
                               shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(history, expected, rtol=1e-5)
    for ours, reference in zip(from_directory.get_weights(), from_arrays.get_weights()):
        np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-6)
    assert history[-1] < history[0]
