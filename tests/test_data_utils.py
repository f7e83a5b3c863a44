"""Data utilities against independent computations: ``normalize`` (NumPy norms), ``pad_sequences``
(``keras.utils.pad_sequences`` across an option grid), ``split_dataset`` (Keras's sizes and
seeded order) and ``train_test_split`` (exact per-class counts under stratification).

Everything but ``normalize`` on backend tensors is backend-independent NumPy code and runs in
the numpy pass only.
"""

import itertools
import os
import random

import numpy as np
import pytest

import highlevel as hl

BACKEND = os.environ.get("HIGHLEVEL_BACKEND", "numpy")
numpy_pass_only = pytest.mark.skipif(BACKEND != "numpy",
                                     reason="backend-independent NumPy code; tested in the numpy pass")


def keras():
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    return pytest.importorskip("keras")


# ------------------------------------------------------------------ normalize


def reference_normalize(x, axis, order):
    """Written out with sums and powers (not np.linalg.norm): x / (sum |x|^p)^(1/p), zero norms -> 1."""
    x = np.asarray(x, dtype=np.float64)
    if order == np.inf:
        norm = np.abs(x).max(axis=axis, keepdims=True)
    else:
        norm = (np.abs(x) ** order).sum(axis=axis, keepdims=True) ** (1.0 / order)
    return x / np.where(norm == 0, 1.0, norm)


@numpy_pass_only
@pytest.mark.parametrize("axis", [0, 1, -1, 2])
@pytest.mark.parametrize("order", [1, 2, 3, 0.5, np.inf])
def test_normalize_numpy_matches_the_written_out_norm(axis, order):
    x = np.random.default_rng(1).normal(size=(3, 4, 5))
    x[1, :, 2] = 0.0  # some all-zero vectors along every axis choice
    x[:, 2, :] = 0.0
    result = hl.utils.normalize(x, axis=axis, order=order)
    assert isinstance(result, np.ndarray) and result.shape == x.shape
    np.testing.assert_allclose(result, reference_normalize(x, axis, order), rtol=1e-12, atol=1e-12)
    # Every non-zero vector now has unit norm; zero vectors stay zero.
    abs_result = np.abs(result)
    norm = abs_result.max(axis=axis) if order == np.inf else (abs_result ** order).sum(axis=axis) ** (1 / order)
    nonzero = np.abs(x).sum(axis=axis) > 0
    np.testing.assert_allclose(norm[nonzero], 1.0, rtol=1e-12)
    assert np.all(norm[~nonzero] == 0)


@numpy_pass_only
def test_normalize_matches_keras_on_its_default_axis():
    x = np.random.default_rng(2).normal(size=(6, 7))
    np.testing.assert_allclose(hl.utils.normalize(x), keras().utils.normalize(x), rtol=1e-12)
    np.testing.assert_allclose(hl.utils.normalize(x, order=1), keras().utils.normalize(x, order=1), rtol=1e-12)
    # Lists and ints become float NumPy arrays, as NumPy division promotes them.
    np.testing.assert_allclose(hl.utils.normalize([[3, 4], [0, 0]]), [[0.6, 0.8], [0.0, 0.0]])


@pytest.mark.parametrize("order", [1, 2, np.inf])
def test_normalize_backend_tensors_stay_tensors(order):
    x = np.random.default_rng(3).normal(size=(4, 5)).astype(np.float32)
    x[2] = 0.0
    for axis in (0, -1):
        result = hl.utils.normalize(hl.ops.convert_to_tensor(x), axis=axis, order=order)
        assert hl.ops.is_tensor(result)
        np.testing.assert_allclose(hl.ops.convert_to_numpy(result), reference_normalize(x, axis, order),
                                   rtol=1e-5, atol=1e-6)
    ints = hl.utils.normalize(hl.ops.convert_to_tensor(np.array([[3, 4]], dtype=np.int32)))
    np.testing.assert_allclose(hl.ops.convert_to_numpy(ints), [[0.6, 0.8]], rtol=1e-6)


@numpy_pass_only
@pytest.mark.parametrize("kwargs, message", [({"order": 0}, "order"), ({"order": -2}, "order"),
                                             ({"order": "fro"}, "order"), ({"axis": 3}, "axis"),
                                             ({"axis": 1.0}, "axis")])
def test_normalize_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        hl.utils.normalize(np.ones((2, 3)), **kwargs)


# ------------------------------------------------------------------ pad_sequences


@numpy_pass_only
def test_pad_sequences_matches_keras_across_the_option_grid():
    sequences = [[1, 2, 3], [4], [], [5, 6, 7, 8, 9], [1.7, 2.2], np.array([7, 8])]
    grid = itertools.product([None, 1, 3, 7], ["pre", "post"], ["pre", "post"], [0.0, -1, 2.5],
                             ["int32", "float32", "int64", "float64"])
    for maxlen, padding, truncating, value, dtype in grid:
        ours = hl.utils.pad_sequences(sequences, maxlen, dtype, padding, truncating, value)
        theirs = keras().utils.pad_sequences(sequences, maxlen, dtype, padding, truncating, value)
        assert ours.dtype == theirs.dtype, (maxlen, padding, truncating, value, dtype)
        np.testing.assert_array_equal(ours, theirs, err_msg=str((maxlen, padding, truncating, value, dtype)))


@numpy_pass_only
def test_pad_sequences_written_out_example():
    # Independent of Keras: pre-padding keeps the last maxlen steps, post keeps the first.
    result = hl.utils.pad_sequences([[1], [2, 3], [4, 5, 6]], maxlen=2)
    np.testing.assert_array_equal(result, [[0, 1], [2, 3], [5, 6]])
    result = hl.utils.pad_sequences([[1], [2, 3], [4, 5, 6]], padding="post", truncating="post", value=-1)
    np.testing.assert_array_equal(result, [[1, -1, -1], [2, 3, -1], [4, 5, 6]])


@numpy_pass_only
@pytest.mark.parametrize("dtype", [object, "<U4", "S4"])
def test_pad_sequences_strings_match_keras(dtype):
    sequences = [["a", "bb"], ["ccc"], [], ["d", "e", "f"]]
    for padding, truncating, maxlen in itertools.product(["pre", "post"], ["pre", "post"], [None, 2]):
        ours = hl.utils.pad_sequences(sequences, maxlen, dtype, padding, truncating, value="x")
        theirs = keras().utils.pad_sequences(sequences, maxlen, dtype, padding, truncating, value="x")
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)


@numpy_pass_only
def test_pad_sequences_multidimensional_steps_and_all_empty():
    sequences = [np.arange(6).reshape(3, 2), np.zeros((0, 2)), np.array([[9, 9]])]
    ours = hl.utils.pad_sequences(sequences, maxlen=2, value=-1)
    np.testing.assert_array_equal(ours, keras().utils.pad_sequences(sequences, maxlen=2, value=-1))
    np.testing.assert_array_equal(ours, [[[2, 3], [4, 5]], [[-1, -1], [-1, -1]], [[-1, -1], [9, 9]]])
    np.testing.assert_array_equal(hl.utils.pad_sequences([[], []], maxlen=3), np.zeros((2, 3)))
    assert hl.utils.pad_sequences([[], []]).shape == (2, 0)


@numpy_pass_only
@pytest.mark.parametrize("call, message", [
    (lambda: hl.utils.pad_sequences([[1], 2]), "position 1"),
    (lambda: hl.utils.pad_sequences(5), "list of sequences"),
    (lambda: hl.utils.pad_sequences([[1]], padding="middle"), "padding"),
    (lambda: hl.utils.pad_sequences([[1]], truncating="middle"), "truncating"),
    (lambda: hl.utils.pad_sequences([[1]], value="pad"), "dtype=object"),
    (lambda: hl.utils.pad_sequences([[[1, 2]], [[1, 2, 3]]]), "position 1"),
    (lambda: hl.utils.pad_sequences([]), "empty"),
    (lambda: hl.utils.pad_sequences([[1]], maxlen=-1), "maxlen"),
])
def test_pad_sequences_errors_are_value_errors_naming_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ------------------------------------------------------------------ split_dataset


def keras_split(dataset, left, right, shuffle, seed):
    """Keras's split, materialised as NumPy: a list of samples per side."""
    ours_left, ours_right = keras().utils.split_dataset(dataset, left, right, shuffle=shuffle, seed=seed)
    return [np.array([np.asarray(part) for part in side]) for side in (ours_left, ours_right)]


@numpy_pass_only
@pytest.mark.parametrize("left, right", [(0.3, None), (None, 4), (3, 5), (0.25, 0.5), (7, None), (None, 0.45)])
@pytest.mark.parametrize("shuffle", [False, True])
def test_split_dataset_matches_keras_sizes_and_seeded_order(left, right, shuffle):
    x = np.arange(30).reshape(10, 3)
    ours_left, ours_right = hl.utils.split_dataset(x, left, right, shuffle=shuffle, seed=5)
    theirs_left, theirs_right = keras_split(x, left, right, shuffle, 5)
    np.testing.assert_array_equal(ours_left, theirs_left)
    np.testing.assert_array_equal(ours_right, theirs_right)


@numpy_pass_only
def test_split_dataset_keeps_tuple_list_and_dict_structures_aligned():
    x = np.arange(20).reshape(10, 2)
    y = np.arange(10) * 10
    left, right = hl.utils.split_dataset((x, y), left_size=0.6, shuffle=True, seed=1)
    assert isinstance(left, tuple) and left[0].shape == (6, 2) and right[0].shape == (4, 2)
    np.testing.assert_array_equal(left[0][:, 0] * 5, left[1])  # rows stay paired
    # The two sides partition the samples (nothing lost, nothing shared).
    assert sorted(np.concatenate([left[1], right[1]]).tolist()) == y.tolist()
    left_list, right_list = hl.utils.split_dataset([x, y], left_size=0.6, shuffle=True, seed=1)
    assert isinstance(left_list, list)
    np.testing.assert_array_equal(left_list[1], left[1])
    left_dict, right_dict = hl.utils.split_dataset({"x": x, "y": y}, right_size=4, shuffle=True, seed=1)
    assert set(left_dict) == {"x", "y"}
    np.testing.assert_array_equal(left_dict["y"], left[1])
    np.testing.assert_array_equal(right_dict["x"], right[0])
    # Keras agrees on the tuple's order for the same seed.
    theirs_left, _ = keras().utils.split_dataset((x, y), left_size=0.6, shuffle=True, seed=1)
    np.testing.assert_array_equal([int(sample[1]) for sample in theirs_left], left[1])


@numpy_pass_only
def test_split_dataset_without_seed_follows_pythons_global_random():
    x = np.arange(50)
    random.seed(7)
    first, _ = hl.utils.split_dataset(x, left_size=10, shuffle=True)
    random.seed(7)
    second, _ = hl.utils.split_dataset(x, left_size=10, shuffle=True)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, np.arange(10))


@numpy_pass_only
@pytest.mark.parametrize("left, right, error, message", [
    (None, None, ValueError, "at least one"),
    (10, None, ValueError, "left_size"),
    (0, None, ValueError, "left_size"),
    (1.0, None, ValueError, "left_size"),
    (None, 1.5, ValueError, "right_size"),
    (0.7, 0.6, ValueError, "more than"),
    (6, 5, ValueError, "more than"),
    (0.01, None, ValueError, "empty"),
    ("half", None, TypeError, "left_size"),
])
def test_split_dataset_size_errors(left, right, error, message):
    with pytest.raises(error, match=message):
        hl.utils.split_dataset(np.arange(10), left, right)


@numpy_pass_only
def test_split_dataset_structure_errors():
    with pytest.raises(ValueError, match="same number of samples"):
        hl.utils.split_dataset((np.arange(4), np.arange(5)), left_size=2)
    with pytest.raises(TypeError, match="NumPy array"):
        hl.utils.split_dataset([1, 2, 3], left_size=1)
    with pytest.raises(TypeError, match="NumPy array"):
        hl.utils.split_dataset("abc", left_size=1)


# ------------------------------------------------------------------ train_test_split


def expected_class_counts(class_counts, n_draw):
    """Largest-remainder allocation, computed with fractions: floor shares, then +1 by remainder."""
    from fractions import Fraction
    shares = [Fraction(count * n_draw, sum(class_counts)) for count in class_counts]
    counts = [int(share) for share in shares]
    by_remainder = sorted(range(len(shares)), key=lambda i: (-(shares[i] - counts[i]), i))
    for i in by_remainder[:n_draw - sum(counts)]:
        counts[i] += 1
    return counts


@numpy_pass_only
@pytest.mark.parametrize("class_counts, test_size", [([40, 20, 12], 0.25), ([7, 5, 3], 0.3), ([50, 50], 11),
                                                     ([9, 4, 4, 3], 0.5)])
def test_stratified_split_has_exact_per_class_counts(class_counts, test_size):
    labels = np.repeat(np.arange(len(class_counts)), class_counts)
    features = np.arange(len(labels)) * 3
    x_train, x_test, y_train, y_test = hl.utils.train_test_split(features, labels, test_size=test_size,
                                                                 stratify=labels, seed=0)
    n = len(labels)
    n_test = int(np.ceil(test_size * n)) if isinstance(test_size, float) else test_size
    test_counts = expected_class_counts(class_counts, n_test)
    train_counts = expected_class_counts([c - t for c, t in zip(class_counts, test_counts)], n - n_test)
    assert np.bincount(y_test, minlength=len(class_counts)).tolist() == test_counts
    assert np.bincount(y_train, minlength=len(class_counts)).tolist() == train_counts
    np.testing.assert_array_equal(labels[x_train // 3], y_train)  # features and labels stay paired
    np.testing.assert_array_equal(labels[x_test // 3], y_test)
    assert len(set(x_train.tolist()) | set(x_test.tolist())) == n  # a partition


@numpy_pass_only
def test_stratify_on_one_hot_rows():
    labels = np.repeat([0, 1], [30, 10])
    one_hot = np.eye(2)[labels]
    _, y_test = hl.utils.train_test_split(one_hot, test_size=0.25, stratify=one_hot, seed=3)
    # Rows are classes in np.unique's sorted order: [0, 1] (10 samples) before [1, 0] (30); the
    # tied remainders (2.5 and 7.5) give the extra sample to the first of them.
    expected_first, expected_second = expected_class_counts([10, 30], 10)
    assert y_test.sum(axis=0).tolist() == [expected_second, expected_first] == [7, 3]


@numpy_pass_only
def test_train_test_split_sizes_order_and_seed():
    a, b = np.arange(10), np.arange(10) * 2
    a_train, a_test, b_train, b_test = hl.utils.train_test_split(a, b, seed=4)
    assert len(a_test) == 3 and len(a_train) == 7  # ceil(0.25 * 10) test, the rest train (scikit-learn)
    np.testing.assert_array_equal(b_train, 2 * a_train)
    np.testing.assert_array_equal(b_test, 2 * a_test)
    again = hl.utils.train_test_split(a, b, seed=4)
    np.testing.assert_array_equal(again[0], a_train)
    order = np.random.default_rng(4).permutation(10)  # the documented permutation
    np.testing.assert_array_equal(a_test, order[:3])
    np.testing.assert_array_equal(a_train, order[3:])
    train, test = hl.utils.train_test_split(list(range(10)), test_size=0.2, shuffle=False)
    np.testing.assert_array_equal(train, np.arange(8))
    np.testing.assert_array_equal(test, [8, 9])
    train, test = hl.utils.train_test_split(a, test_size=None, train_size=0.65, seed=0)
    assert len(train) == 6 and len(test) == 4  # floor(0.65 * 10) train, complement test
    train, test = hl.utils.train_test_split(a, test_size=2, train_size=5, seed=0)
    assert len(train) == 5 and len(test) == 2


@numpy_pass_only
@pytest.mark.parametrize("kwargs, message", [
    ({"test_size": 1.2}, "test_size"), ({"test_size": 0}, "test_size"), ({"test_size": 10}, "test_size"),
    ({"train_size": 0.8, "test_size": 0.3}, "exceeds"), ({"train_size": 8, "test_size": 3}, "exceed"),
    ({"stratify": np.arange(10)}, "at least 2"), ({"stratify": np.zeros(10), "shuffle": False}, "shuffle"),
    ({"stratify": np.zeros(9)}, "one label per sample"),
    ({"stratify": np.repeat(np.arange(5), 2), "test_size": 3}, "fewer than"),
])
def test_train_test_split_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        hl.utils.train_test_split(np.arange(10), **kwargs)


@numpy_pass_only
def test_train_test_split_needs_aligned_arrays():
    with pytest.raises(ValueError, match="same number of samples"):
        hl.utils.train_test_split(np.arange(10), np.arange(9))
    with pytest.raises(ValueError, match="at least one array"):
        hl.utils.train_test_split()
    with pytest.raises(TypeError, match="test_size"):
        hl.utils.train_test_split(np.arange(10), test_size="a")
