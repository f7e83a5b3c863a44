"""The examples run on the backend in use (short runs) and print correct numbers.

All the scripts run in ONE subprocess (importing an engine takes seconds), each as
``__main__`` with small ``--epochs``/size arguments; the test then checks each
script's printed results (and the files they write) against independent computations.
``compare_backends.py`` starts one process per installed backend itself, so it runs
only in the NumPy pass.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import highlevel as hl

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ON_NUMPY = hl.backend.name() == "numpy"
MARK = "=== example "


def example_runs(folder: Path) -> dict:
    """{script: argv} of the short runs; files the scripts write go to ``folder``."""
    runs = {
        "linear_regression.py": ["--epochs", "40", "--samples", "200", "--verbose", "0"],
        "gradient_descent.py": ["--epochs", "2", "--samples", "64"],
        "mlp_classifier.py": ["--epochs", "2", "--samples-per-class", "60", "--verbose", "0"],
        "gan.py": ["--epochs", "1", "--samples", "2048"],
        "cnn_digits.py": ["--epochs", "3", "--train-samples", "600", "--verbose", "0",
                          "--save", str(folder / "digits_cnn.hl")],
        "autoencoder.py": ["--epochs", "4", "--train-samples", "1000", "--verbose", "0"],
        "transfer_learning.py": ["--pretrain-epochs", "3", "--epochs", "15", "--shots", "5",
                                 "--weights-out", str(folder / "transfer.npz")],
        "imdb_sentiment.py": ["--epochs", "4", "--samples", "1500", "--maxlen", "16", "--verbose", "0"],
        "rnn_sequence.py": ["--epochs", "2", "--samples", "400", "--steps", "8", "--verbose", "0"],
        "transformer_classifier.py": ["--epochs", "3", "--samples", "800", "--verbose", "0"],
    }
    if ON_NUMPY:
        # An MLP (no dropout): same seed -> same weights and batches -> the backends' accuracies agree.
        runs["compare_backends.py"] = ["--model", "mlp", "--epochs", "3", "--train-samples", "400",
                                       "--repeats", "3"]
    return runs


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("examples")


@pytest.fixture(scope="module")
def outputs(folder):
    runs = example_runs(folder)
    driver = f"""
import runpy, sys
for script, args in {runs!r}.items():
    print({MARK!r} + script, flush=True)
    sys.argv = [script] + args
    runpy.run_path({str(EXAMPLES)!r} + "/" + script, run_name="__main__")
"""
    env = dict(os.environ, OMP_NUM_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", driver], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    sections = {}
    for block in done.stdout.split(MARK)[1:]:
        name, _, text = block.partition("\n")
        sections[name.strip()] = text
    assert set(sections) == set(runs)
    return sections


def number(text, label):
    match = re.search(re.escape(label) + r"\s*(-?[\d.]+(?:e-?\d+)?)", text)
    assert match, f"{label!r} not found in:\n{text}"
    return float(match.group(1))


def load_example(name):
    spec = importlib.util.spec_from_file_location(name[:-3], EXAMPLES / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def scaled_digits():
    """The bundled digits as the examples use them, recomputed here: x (n, 8, 8, 1) = pixels / 16."""
    (x_train, y_train), (x_test, y_test) = hl.datasets.digits.load_data()
    return ((x_train / 16.0)[..., None], y_train), ((x_test / 16.0)[..., None], y_test)


def test_linear_regression_keras_and_pytorch_styles(outputs):
    text = outputs["linear_regression.py"]
    module = load_example("linear_regression.py")
    x, y = module.make_data(200, np.random.default_rng(0))
    design = np.hstack([x, np.ones((200, 1))])
    solution = np.linalg.lstsq(design, y, rcond=None)[0].ravel()
    rows = re.findall(r"^\s+(?:w\[\d\]|b)\s+(-?[\d.]+)\s+(-?[\d.]+)$", text, re.M)
    assert len(rows) == 8   # 3 weights + bias, for each style
    fitted, printed_lstsq = np.array(rows, dtype=float).T
    np.testing.assert_allclose(printed_lstsq, np.tile(solution, 2), atol=1e-4)   # the closed form
    for style in ("keras style", "pytorch style"):
        assert number(text, f"{style}: final loss:") < number(text, f"{style}: initial loss:") / 2
    # 40 full-batch steps at learning rate 0.1 converge (the error shrinks ~0.8x a step);
    # the Keras style's 280 SGD steps at 0.01 get close.
    np.testing.assert_allclose(fitted[4:], solution, atol=1e-3)
    np.testing.assert_allclose(fitted[:4], solution, atol=0.05)
    # At the solution the loss is the residual variance of the data.
    residual = np.mean((design @ solution - y.ravel()) ** 2)
    assert number(text, "pytorch style: final loss:") == pytest.approx(residual, abs=1e-4)


def test_gradient_descent_curves(outputs):
    text = outputs["gradient_descent.py"]
    rows = [list(map(float, line.split()[1:])) for line in text.splitlines() if re.match(r"^\s+\d+\s+[\d.]", line)]
    assert len(rows) == 3   # before training and after each of the 2 epochs
    batch_gd, mini_batch, sgd = zip(*rows)
    assert batch_gd[0] == mini_batch[0] == sgd[0]   # same problem, same initial weights
    for curve in (batch_gd, mini_batch):
        assert curve[0] > curve[1] > curve[2]
    # With the same learning rate, more steps per epoch make more progress per epoch.
    assert sgd[1] < mini_batch[1] < batch_gd[1]


def test_mlp_classifier(outputs):
    text = outputs["mlp_classifier.py"]
    evaluated = number(text, "test accuracy:")
    predicted = number(text, "(from predict:")
    assert evaluated == pytest.approx(predicted, abs=1e-4)   # evaluate() and predict() agree
    assert evaluated > 1 / 3   # better than chance after two epochs
    assert number(text, "epochs run:") == 2


def test_gan_moves_toward_the_target(outputs):
    text = outputs["gan.py"]
    before = number(text, "before training: generated mean")
    after = number(text, "final: generated mean")
    assert abs(after - 4.0) < abs(before - 4.0)
    assert re.search(r"epoch\s+1\s+d_loss [\d.]+\s+g_loss [\d.]+", text)


def test_cnn_digits_trains_saves_and_reloads(outputs, folder):
    text = outputs["cnn_digits.py"]
    evaluated = number(text, "test accuracy:")
    assert evaluated == pytest.approx(number(text, "(from predict:"), abs=1e-4)
    assert evaluated > 0.5   # chance is 0.1; three short epochs on 600 real digits
    assert number(text, "last epoch loss:") < number(text, "first epoch loss:")
    assert number(text, "epochs run:") == 3
    assert "same predictions: True" in text
    # The saved file, loaded here, scores what the script printed on the digits loaded here.
    (x_train, _), (x_test, y_test) = scaled_digits()
    assert f"digits: 600 training and {len(y_test)} test images" in text
    module = load_example("cnn_digits.py")
    (x_example, _), (x_example_test, _) = module.load_digits(600)
    np.testing.assert_allclose(x_example, x_train[:600], atol=1e-7)
    np.testing.assert_allclose(x_example_test, x_test, atol=1e-7)
    reloaded = hl.saving.load_model(str(folder / "digits_cnn.hl"))
    accuracy = np.mean(np.argmax(reloaded.predict(x_test.astype(np.float32), verbose=0), axis=1) == y_test)
    assert accuracy == pytest.approx(evaluated, abs=1e-4)
    assert number(text, "reloaded test accuracy:") == pytest.approx(evaluated, abs=1e-4)


def test_autoencoder_denoises_digits(outputs):
    text = outputs["autoencoder.py"]
    assert number(text, "last epoch loss:") < number(text, "first epoch loss:")
    # The printed noisy-input error is the script's data: recompute it independently.
    _, (clean, _) = scaled_digits()
    noisy = np.clip(clean + np.random.default_rng([0, 1]).normal(scale=0.3, size=clean.shape), 0.0, 1.0)
    expected = np.mean((noisy.astype(np.float32) - clean) ** 2)
    assert number(text, "noisy input mse:") == pytest.approx(expected, abs=1e-5)
    assert number(text, "denoised mse:") < expected   # the model removes noise, it does not add it
    assert "code shape: (4, 4, 8)" in text


def test_transfer_learning_keeps_the_frozen_base(outputs, folder):
    text = outputs["transfer_learning.py"]
    saved = np.load(folder / "transfer.npz")
    before = [saved[f"before_{i}"] for i in range(4)]   # two Conv2D layers: kernel, bias each
    after = [saved[f"after_{i}"] for i in range(4)]
    assert [w.shape for w in before] == [(3, 3, 1, 32), (32,), (3, 3, 32, 32), (32,)]
    for old, new in zip(before, after):
        np.testing.assert_array_equal(new, old)   # frozen: not one value moved
    assert np.any(before[0] != 0)   # ...and they are pretrained weights, not zeros
    assert saved["head_kernel"].shape == (512, 5)
    assert number(text, "frozen base: max weight change:") == 0
    assert "trainable weights: transfer 2 (the head's), frozen 4" in text
    # The few labelled images: 5 of each digit 5..9 of the training set.
    (_, y_train), (_, y_test) = scaled_digits()
    assert np.bincount(y_train[saved["shots"]], minlength=10).tolist() == [0] * 5 + [5] * 5
    assert f"{np.sum(y_test >= 5)} test images" in text
    assert number(text, "transfer: last epoch loss:") < number(text, "transfer: first epoch loss:")
    evaluated = number(text, "transfer accuracy on digits 5-9:")
    assert evaluated == pytest.approx(number(text, f"5-9: {evaluated:.4f} (from predict:"), abs=1e-4)
    assert evaluated > 0.4   # chance is 0.2
    assert 0 <= number(text, "scratch accuracy on digits 5-9:") <= 1


def test_imdb_sentiment_learns_and_its_reviews_are_consistent(outputs):
    text = outputs["imdb_sentiment.py"]
    assert number(text, "last epoch loss:") < number(text, "first epoch loss:")
    evaluated = number(text, "test accuracy:")
    assert evaluated == pytest.approx(number(text, "(from predict:"), abs=1e-4)
    assert evaluated > 0.7   # chance is about 0.5
    assert "1200 train, 300 test, padded to 16 tokens" in text
    # The generated reviews: recompute each label from the words, negations flipping the next word.
    module = load_example("imdb_sentiment.py")
    reviews, labels = module.make_reviews(300, 200, 12, 40, np.random.default_rng(5))
    lengths = [len(r) for r in reviews]
    assert min(lengths) >= 12 and max(lengths) <= 40 and len(set(lengths)) > 10
    for review, label in zip(reviews, labels):
        review = np.array(review)
        assert review[0] == 1 and np.all((review[1:] >= 4) & (review[1:] < 200))
        sign = np.isin(review, range(4, 24)).astype(int) - np.isin(review, range(24, 44))
        negated = np.concatenate([[False], np.isin(review[:-1], (44, 45, 46))])
        score = np.sum(np.where(negated, -sign, sign))
        assert score != 0 and label == (score > 0)
        assert np.sum(sign != 0) in (3, 5)
    assert 0.3 < labels.mean() < 0.7
    # What the model sees: each review padded in front with 0s to maxlen (Keras's default).
    args = argparse.Namespace(data="synthetic", samples=50, num_words=200, maxlen=16, seed=7)
    (x_train, y_train), (x_test, y_test) = module.load(args)
    reviews, labels = module.make_reviews(50, 200, 12, 16, np.random.default_rng(7))
    expected = np.zeros((50, 16), np.int64)
    for row, review in zip(expected, reviews):
        row[16 - len(review):] = review
    np.testing.assert_array_equal(np.concatenate([x_train, x_test]), expected)
    np.testing.assert_array_equal(np.concatenate([y_train, y_test]), labels)


def test_rnn_sequence_lstm_and_gru_learn(outputs):
    text = outputs["rnn_sequence.py"]
    for kind in ("lstm", "gru"):
        assert number(text, f"{kind}: last epoch loss:") < number(text, f"{kind}: first epoch loss:")
        evaluated = number(text, f"{kind}: test accuracy:")
        assert evaluated == pytest.approx(number(text, f"{kind}: test accuracy: {evaluated:.4f} (from predict:"),
                                          abs=1e-4)
        assert evaluated > 0.5   # better than chance (the classes are about balanced)
    module = load_example("rnn_sequence.py")
    x, y = module.make_data(50, 8, np.random.default_rng(1))
    tokens = x.argmax(axis=-1)
    score = np.isin(tokens, module.POSITIVE).sum(1) - np.isin(tokens, module.NEGATIVE).sum(1)
    np.testing.assert_array_equal(y, score > 0)
    assert np.all(score != 0) and np.allclose(x.sum(-1), 1)


def test_transformer_classifier_learns_word_order(outputs):
    text = outputs["transformer_classifier.py"]
    assert number(text, "last epoch loss:") < number(text, "first epoch loss:")
    evaluated = number(text, "test accuracy:")
    assert evaluated == pytest.approx(number(text, "(from predict:"), abs=1e-4)
    assert evaluated > 0.6   # chance is about 0.5
    module = load_example("transformer_classifier.py")
    ids, y = module.make_data(40, 10, np.random.default_rng(3))
    for row, label in zip(ids, y):
        length = np.count_nonzero(row)
        assert np.all(row[length:] == 0) and length >= 4 and np.all(row[:length] > 0)
        a, b = np.flatnonzero(row == module.TOKEN_A), np.flatnonzero(row == module.TOKEN_B)
        assert len(a) == 1 and len(b) == 1 and label == (a[0] < b[0])


@pytest.mark.skipif(not ON_NUMPY, reason="compare_backends.py starts every backend itself: run it once, "
                                         "in the numpy pass")
def test_compare_backends_table(outputs):
    text = outputs["compare_backends.py"]
    installed = [name for name, ok in hl.backends.available().items() if ok]
    results = [json.loads(line[len("RESULT "):]) for line in text.splitlines() if line.startswith("RESULT ")]
    assert [r["backend"] for r in results] == installed
    rows = {m[0]: [float(v) for v in m[1:]] for m in
            re.findall(r"^(\w+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", text, re.M)}
    assert list(rows) == installed
    for r in results:
        # The table shows the measurements (as rounded for printing) and they are plausible.
        accuracy, epoch_time, latency, throughput = rows[r["backend"]]
        assert accuracy == pytest.approx(r["test_accuracy"], abs=1e-4)
        assert epoch_time == pytest.approx(r["epoch_time_s"], abs=1e-3) and 0 < r["epoch_time_s"] < 60
        assert latency == pytest.approx(r["predict_latency_ms"], abs=0.01) and r["predict_latency_ms"] > 0
        assert throughput == pytest.approx(r["images_per_s"], abs=1) and r["images_per_s"] > 0
        assert r["test_accuracy"] > 0.3 and r["epochs"] == 3   # chance is 0.1
    # Same seed -> same initial weights on every engine (the workers print a fingerprint of them)...
    fingerprints = [r["initial_weights_abs_sum"] for r in results]
    np.testing.assert_allclose(fingerprints, fingerprints[0], rtol=1e-6)
    assert fingerprints[0] > 0
    # ...and with the same batches and no dropout, the engines agree up to float32 rounding.
    accuracies = [r["test_accuracy"] for r in results]
    assert max(accuracies) - min(accuracies) <= 0.02, accuracies
