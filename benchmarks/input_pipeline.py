"""Input-pipeline throughput: ``fit`` fed by loaders vs in-memory arrays, raw loops and Keras 3.

The data: ``SAMPLES`` RGB images 32x32x3 (10 classes), each stored zlib-compressed, as an
image file would be. "Decoding" one sample decompresses it (zlib releases the GIL, as real
image decoders do), flips every other image and scales it to float32 in [-1, 1]: about
1-3 ms per batch of 64 on one core — the same order as a training step of the model, so
hiding the loader behind the step is what the workers are for. The model everywhere:
Conv2D(8, 3, relu) -> MaxPooling2D(2) -> Flatten -> Dense(10), Adam 1e-3, sparse softmax
cross-entropy on logits, batch 64.

For each engine (a subprocess per engine: highlevel and Keras bind their backend at import):

* workload A, "slow loader" — ``hl fit`` on an ``hl.utils.PyDataset`` that decodes in
  ``__getitem__`` with ``workers=1``, ``workers=4`` (threads) and ``workers=4,
  use_multiprocessing=True``; the reference is ``hl fit`` on the decoded arrays held in
  memory (the upper bound: no decoding at all). Keras 3 (torch, tensorflow) runs the same
  three settings on a ``keras.utils.PyDataset`` with the same ``__getitem__``.
* workload B, "framework loaders" — the same samples through a ``torch.utils.data.DataLoader``
  (per-sample decoding, ``num_workers`` 0 and 2) and a ``tf.data`` pipeline
  (``decode_compressed`` map + batch + prefetch) into ``hl fit``; the reference is the
  engine's own hand-written loop over the same loader (torch autograd + ``torch.optim.Adam``;
  a ``tf.function`` step with Adam in TF ops). A torch loop reads tf.data through
  ``as_numpy_iterator``, a TF loop reads torch tensors through ``.numpy()``, as users of
  those engines would. NumPy has no raw loop: its hl rows show samples/s only.

Every contender trains one epoch per round, contenders alternate within a round, the first
round is a warm-up; samples/s are medians, ratios are medians of per-round ratios. One
compute thread per engine (DESIGN.md); loader workers are extra threads/processes, so on a
2-core machine worker scaling is capped near 2x and shares the cores with the training step.

    python benchmarks/input_pipeline.py [--rounds 5] [--engines torch tensorflow numpy] [--quick]

Targets: PyDataset workers=4 (threads) faster than workers=1; hl fit >= 0.9x the raw loop over
the same DataLoader / tf.data pipeline (adapter overhead <= 10%); hl >= keras 3 with the same
PyDataset settings.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TFAdam, pin_engine_threads, run_engine_children, time_contenders  # noqa: E402

SIZE, CHANNELS, CLASSES, FILTERS, BATCH = 32, 3, 10, 8, 64
SAMPLES = 2048          # per epoch: 32 batches (--quick: a quarter)
SCALE = np.float32(1 / 127.5)
PYDATASET_SETTINGS = {  # contender -> (workers, use_multiprocessing)
    "workers=1": (1, False),
    "workers=4 threads": (4, False),
    "workers=4 processes": (4, True),
}


# ------------------------------------------------------------------ data


def make_compressed_images(samples: int, seed: int = 0):
    """``(blobs, labels)``: ``samples`` zlib-compressed uint8 32x32x3 images and int64 labels.

    The images are blocky (8x8 upsampled) with small noise, so they compress about 1.2x and
    decompressing does real work.
    """
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 253, (samples, SIZE // 4, SIZE // 4, CHANNELS))
    images = np.repeat(np.repeat(blocks, 4, axis=1), 4, axis=2) + rng.integers(0, 3, (samples, SIZE, SIZE, CHANNELS))
    blobs = [zlib.compress(image.astype(np.uint8).tobytes(), 6) for image in images]
    return blobs, rng.integers(0, CLASSES, samples).astype(np.int64)


def decode(blob: bytes, flip: bool) -> np.ndarray:
    """One image ``(32, 32, 3)`` float32 in [-1, 1], mirrored left-right when ``flip``."""
    image = np.frombuffer(zlib.decompress(blob), np.uint8).reshape(SIZE, SIZE, CHANNELS)
    if flip:
        image = image[:, ::-1]
    return image.astype(np.float32) * SCALE - 1


class DecodingBatches:
    """The ``__len__``/``__getitem__`` shared by the hl and Keras PyDatasets: decode per sample."""

    def __init__(self, blobs, labels, **kwargs):
        super().__init__(**kwargs)
        self.blobs, self.labels = blobs, labels

    def __len__(self):
        return len(self.blobs) // BATCH

    def __getitem__(self, index):
        start, stop = index * BATCH, (index + 1) * BATCH
        return np.stack([decode(self.blobs[i], i % 2 == 1) for i in range(start, stop)]), self.labels[start:stop]


def define_dataset_classes(with_keras: bool):
    """Module-level PyDataset classes (picklable by name), built once the child chose its engine."""
    global HLDecodingDataset, KerasDecodingDataset, TorchDecodingDataset
    import importlib.util

    import highlevel as hl

    class HLDecodingDataset(DecodingBatches, hl.utils.PyDataset):
        pass

    if with_keras:   # (Keras's numpy backend needs jax: Keras is only built on torch and tensorflow)
        import keras

        class KerasDecodingDataset(DecodingBatches, keras.utils.PyDataset):
            pass

    if importlib.util.find_spec("torch"):
        import torch

        class TorchDecodingDataset(torch.utils.data.Dataset):
            """Per-sample decoding, batched by the DataLoader's default collate."""

            def __init__(self, blobs, labels):
                self.blobs, self.labels = blobs, labels

            def __len__(self):
                return len(self.blobs)

            def __getitem__(self, i):
                return torch.from_numpy(decode(self.blobs[i], i % 2 == 1)), int(self.labels[i])


def torch_loader(blobs, labels, num_workers):
    import torch

    return torch.utils.data.DataLoader(TorchDecodingDataset(blobs, labels), batch_size=BATCH, shuffle=True,
                                       num_workers=num_workers, drop_last=True)


def tf_pipeline(blobs, labels):
    import tensorflow as tf

    def decode_tf(blob, label):
        image = tf.reshape(tf.io.decode_raw(tf.io.decode_compressed(blob, "ZLIB"), tf.uint8), (SIZE, SIZE, CHANNELS))
        return tf.cast(image, tf.float32) * SCALE - 1, label

    # The flip is left out: tf.data has no sample index in map without an enumerate, and a
    # reverse costs next to nothing next to the decompression.
    return (tf.data.Dataset.from_tensor_slices((blobs, labels)).shuffle(len(blobs))
            .map(decode_tf, num_parallel_calls=tf.data.AUTOTUNE).batch(BATCH, drop_remainder=True)
            .prefetch(tf.data.AUTOTUNE))


# ------------------------------------------------------------------ models


def hl_model():
    import highlevel as hl

    model = hl.Sequential([hl.Input((SIZE, SIZE, CHANNELS)), hl.layers.Conv2D(FILTERS, 3, activation="relu"),
                           hl.layers.MaxPooling2D(2), hl.layers.Flatten(), hl.layers.Dense(CLASSES)])
    model.compile(optimizer=hl.optimizers.Adam(learning_rate=1e-3),
                  loss=hl.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def keras_model():
    import keras

    model = keras.Sequential([keras.Input((SIZE, SIZE, CHANNELS)), keras.layers.Conv2D(FILTERS, 3, activation="relu"),
                              keras.layers.MaxPooling2D(2), keras.layers.Flatten(), keras.layers.Dense(CLASSES)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def torch_train_step():
    """``step(x, y)`` on torch tensors, x NHWC (permuted to NCHW here, as a torch user would)."""
    import torch

    model = torch.nn.Sequential(torch.nn.Conv2d(CHANNELS, FILTERS, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                torch.nn.Flatten(), torch.nn.Linear(FILTERS * 15 * 15, CLASSES))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)

    def step(x, y):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x.permute(0, 3, 1, 2)), y)
        loss.backward()
        optimizer.step()
    return step


def tf_train_step():
    """A ``tf.function`` step on NHWC tensors: conv/pool/dense in tf.nn, Adam in TF ops."""
    import tensorflow as tf

    rng = np.random.default_rng(1)

    def glorot(shape, fan_in, fan_out):
        limit = np.sqrt(6 / (fan_in + fan_out))
        return tf.Variable(rng.uniform(-limit, limit, shape).astype(np.float32))

    params = [glorot((3, 3, CHANNELS, FILTERS), 9 * CHANNELS, 9 * FILTERS), tf.Variable(np.zeros(FILTERS, np.float32)),
              glorot((FILTERS * 15 * 15, CLASSES), FILTERS * 15 * 15, CLASSES),
              tf.Variable(np.zeros(CLASSES, np.float32))]
    adam = TFAdam(params)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            h = tf.nn.max_pool2d(tf.nn.relu(tf.nn.conv2d(x, params[0], 1, "VALID") + params[1]), 2, 2, "VALID")
            logits = tf.matmul(tf.reshape(h, (-1, FILTERS * 15 * 15)), params[2]) + params[3]
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
        grads = tape.gradient(loss, params)
        adam.apply(grads)
        return loss
    return step


# ------------------------------------------------------------------ contenders


def fit_epoch(model, data, **kwargs):
    def epoch():
        model.fit(data, epochs=1, verbose=0, **kwargs)
    return epoch


def raw_epoch(engine, loader_kind, loader):
    """One epoch of the engine's own loop over ``loader`` (``loader_kind``: "torch" or "tf")."""
    if engine == "torch":
        import torch

        step = torch_train_step()
        if loader_kind == "torch":
            def epoch():
                for x, y in loader:
                    step(x, y)
        else:
            def epoch():
                for x, y in loader.as_numpy_iterator():
                    step(torch.from_numpy(x), torch.from_numpy(y))
        return epoch
    import tensorflow as tf

    step = tf_train_step()
    if loader_kind == "tf":
        def epoch():
            for x, y in loader:
                step(x, y)
    else:
        def epoch():
            for x, y in loader:
                step(tf.convert_to_tensor(x.numpy()), tf.convert_to_tensor(y.numpy()))
    return epoch


def run_engine(engine: str, rounds: int, quick: bool) -> dict:
    """In the child process: every workload's contenders, timed; ``{workload: {contender: row}}``."""
    import importlib.util

    pin_engine_threads(engine)
    has_keras = engine != "numpy" and importlib.util.find_spec("keras") is not None
    define_dataset_classes(has_keras)
    samples = SAMPLES // 4 if quick else SAMPLES
    blobs, labels = make_compressed_images(samples)
    decoded = np.stack([decode(blob, i % 2 == 1) for i, blob in enumerate(blobs)])
    np.random.seed(0)
    results = {}

    # Workload A: one hl model and one Keras model per contender, so no contender warms another's state.
    slow = {"arrays in memory": fit_epoch(hl_model(), decoded, y=labels, batch_size=BATCH, shuffle=True)}
    for name, (workers, processes) in PYDATASET_SETTINGS.items():
        dataset = HLDecodingDataset(blobs, labels, workers=workers, use_multiprocessing=processes)
        slow[f"PyDataset {name}"] = fit_epoch(hl_model(), dataset)
        if has_keras:
            dataset = KerasDecodingDataset(blobs, labels, workers=workers, use_multiprocessing=processes)
            slow[f"keras 3 PyDataset {name}"] = fit_epoch(keras_model(), dataset)
    results["A slow loader"] = time_contenders(slow, rounds, samples)

    # Workload B: per loader, hl fit vs the engine's own loop over the very same loader object.
    loaders = {}
    if importlib.util.find_spec("torch"):
        for workers in (0, 2):
            loaders[f"torch DataLoader num_workers={workers}"] = ("torch", torch_loader(blobs, labels, workers))
    if importlib.util.find_spec("tensorflow"):
        loaders["tf.data map+batch+prefetch"] = ("tf", tf_pipeline(np.array(blobs, dtype=object), labels))
    for name, (kind, loader) in loaders.items():
        contenders = {"hl fit": fit_epoch(hl_model(), loader)}
        if engine != "numpy":
            contenders["raw loop"] = raw_epoch(engine, kind, loader)
        results[f"B {name}"] = time_contenders(contenders, rounds, samples // BATCH * BATCH)
    return results


# ------------------------------------------------------------------ report


def reference_of(workload: str, contender: str, rows: dict):
    """The row a contender is compared with: arrays (A), the raw loop (B); Keras for hl PyDatasets."""
    if contender.startswith("keras 3"):
        return None, None
    ref = "arrays in memory" if workload.startswith("A") else "raw loop"
    ref = ref if ref in rows and ref != contender else None
    keras = f"keras 3 {contender}" if f"keras 3 {contender}" in rows else None
    return ref, keras


def print_table(all_results: dict):
    print(f"\n{'engine':<11} {'workload':<38} {'contender':<32} {'samples/s':>9} {'vs ref':>7} {'vs keras':>8}")
    for engine, results in all_results.items():
        if "error" in results:
            print(f"{engine:<11} error: {results['error']}")
            continue
        for workload, rows in results.items():
            for contender, row in rows.items():
                ref, keras = reference_of(workload, contender, rows)
                vs_ref = f"{row['ratios'][ref]:6.2f}x" if ref else ""
                vs_keras = f"{row['ratios'][keras]:7.2f}x" if keras else ""
                print(f"{engine:<11} {workload:<38} {contender:<32} {row['speed']:9.0f} {vs_ref:>7} {vs_keras:>8}")
    print("\nvs ref: A — / hl fit on the decoded arrays in memory (upper bound); B — / the engine's raw loop over "
          "the same loader. Ratios: medians of per-round ratios.")
    print("Targets: PyDataset workers=4 threads > workers=1; hl fit >= 0.90x raw loop; hl >= keras 3.")
    for engine, results in all_results.items():
        if "error" in results:
            continue
        checks = []
        slow = results.get("A slow loader", {})
        if "PyDataset workers=4 threads" in slow:
            checks.append(("A threads=4 vs workers=1",
                           slow["PyDataset workers=4 threads"]["ratios"]["PyDataset workers=1"], 1.0))
        for contender, row in slow.items():
            _, keras = reference_of("A", contender, slow)
            if keras:
                checks.append((f"A {contender[10:]} vs keras 3", row["ratios"][keras], 1.0))
        for workload, rows in results.items():
            if workload.startswith("B") and "raw loop" in rows:
                checks.append((f"{workload} vs raw", rows["hl fit"]["ratios"]["raw loop"], 0.9))
        for label, ratio, target in checks:
            verdict = "ok" if ratio >= target else "MISSED"
            print(f"  {engine:<11} {label:<50} {ratio:5.2f}x (target {target:g}x) {verdict}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds after one warm-up round")
    parser.add_argument("--engines", nargs="+", default=["torch", "tensorflow", "numpy"])
    parser.add_argument("--quick", action="store_true", help="a quarter of the samples per epoch")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(run_engine(args.child, args.rounds, args.quick)))
        return None
    child_args = ["--rounds", str(args.rounds)] + (["--quick"] if args.quick else [])
    all_results = run_engine_children(__file__, args.engines, child_args)
    print_table(all_results)
    return all_results


if __name__ == "__main__":
    main()
