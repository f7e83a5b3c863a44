"""The CNN rows of ``train_throughput.py``: two conv nets on 28x28x1 images, 10 classes, batch 64.

* ``cnn 28x28x1``     — Conv2D(8, 3, relu) -> MaxPooling2D(2) -> Flatten -> Dense(10);
* ``convnet 28x28x1`` — Conv2D(32, 3, relu) -> Conv2D(32, 3, relu) -> MaxPooling2D(2) ->
  Conv2D(64, 3, relu) -> MaxPooling2D(2) -> Flatten -> Dense(64, relu) -> Dense(10).

Every convolution is 3x3 "valid", every pooling 2x2. Contenders (each trains one epoch per
call, Adam 1e-3, sparse softmax cross-entropy on logits):

* ``hl fit``    — the model in ``hl.Sequential`` + ``model.fit``;
* ``raw loop``  — torch: ``torch.nn`` modules on NCHW data (the layout torch users write;
  the data is transposed once, outside the timing) + ``torch.optim.Adam``; TensorFlow: a
  ``tf.function`` step with ``tf.nn.conv2d``/``max_pool2d`` on NHWC, a ``GradientTape`` and
  Adam in TF ops (no Keras); NumPy: none (the target there is against raw torch);
* ``keras 3``   — the same model in Keras 3 on the same engine;
* ``raw torch`` — (NumPy engine) the torch loop: the target "NumPy within 4x of raw PyTorch".
"""

from __future__ import annotations

import numpy as np

from harness import TFAdam, torch_adam_epoch  # the benchmarks folder is on sys.path: the scripts put it there

ROWS = {
    # name: (convolutions as (filters, pool after), dense hidden sizes, batch, samples per epoch)
    "cnn 28x28x1": (((8, True),), (), 64, 2048),
    "convnet 28x28x1": (((32, False), (32, True), (64, True)), (64,), 64, 1024),
}
SIZE, CLASSES = 28, 10


def flat_features(convs) -> int:
    size, channels = SIZE, 1
    for filters, pool in convs:
        size, channels = size - 2, filters
        if pool:
            size //= 2
    return size * size * channels


def make_data(samples: int, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(samples, SIZE, SIZE, 1)).astype(np.float32)
    y = rng.integers(0, CLASSES, size=samples).astype(np.int64)
    return x, y


def hl_contender(spec, x, y, jit_compile=False):
    import highlevel as hl

    convs, hidden, batch, _ = spec
    layers = [hl.Input((SIZE, SIZE, 1))]
    for filters, pool in convs:
        layers.append(hl.layers.Conv2D(filters, 3, activation="relu"))
        if pool:
            layers.append(hl.layers.MaxPooling2D(2))
    layers.append(hl.layers.Flatten())
    layers += [hl.layers.Dense(h, activation="relu") for h in hidden]
    layers.append(hl.layers.Dense(CLASSES))
    model = hl.Sequential(layers)
    model.compile(optimizer=hl.optimizers.Adam(learning_rate=1e-3),
                  loss=hl.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=jit_compile)

    def epoch():
        model.fit(x, y, batch_size=batch, epochs=1, shuffle=True, verbose=0)
    return epoch


def keras_contender(spec, x, y):
    import keras

    convs, hidden, batch, _ = spec
    layers = [keras.Input((SIZE, SIZE, 1))]
    for filters, pool in convs:
        layers.append(keras.layers.Conv2D(filters, 3, activation="relu"))
        if pool:
            layers.append(keras.layers.MaxPooling2D(2))
    layers.append(keras.layers.Flatten())
    layers += [keras.layers.Dense(h, activation="relu") for h in hidden]
    layers.append(keras.layers.Dense(CLASSES))
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    def epoch():
        model.fit(x, y, batch_size=batch, epochs=1, shuffle=True, verbose=0)
    return epoch


def torch_contender(spec, x, y):
    import torch

    torch.set_num_threads(1)
    convs, hidden, batch, samples = spec
    modules, channels = [], 1
    for filters, pool in convs:
        modules += [torch.nn.Conv2d(channels, filters, 3), torch.nn.ReLU()]
        if pool:
            modules.append(torch.nn.MaxPool2d(2))
        channels = filters
    modules.append(torch.nn.Flatten())
    sizes = (flat_features(convs),) + tuple(hidden)
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        modules += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    modules.append(torch.nn.Linear(sizes[-1], CLASSES))
    model = torch.nn.Sequential(*modules)
    x_nchw = np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2)))
    return torch_adam_epoch(model, x_nchw, y, batch)


def tf_contender(spec, x, y):
    import tensorflow as tf

    convs, hidden, batch, samples = spec
    rng = np.random.default_rng(1)

    def glorot(shape):
        receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
        limit = np.sqrt(6 / ((shape[-2] + shape[-1]) * receptive))
        return tf.Variable(rng.uniform(-limit, limit, shape).astype(np.float32))

    kernels, channels = [], 1
    for filters, _ in convs:
        kernels += [glorot((3, 3, channels, filters)), tf.Variable(np.zeros(filters, np.float32))]
        channels = filters
    sizes = (flat_features(convs),) + tuple(hidden) + (CLASSES,)
    dense = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        dense += [glorot((fan_in, fan_out)), tf.Variable(np.zeros(fan_out, np.float32))]
    params = kernels + dense
    adam = TFAdam(params)

    @tf.function
    def train_step(xb, yb):
        with tf.GradientTape() as tape:
            h = xb
            for i, (_, pool) in enumerate(convs):
                h = tf.nn.relu(tf.nn.conv2d(h, kernels[2 * i], 1, "VALID") + kernels[2 * i + 1])
                if pool:
                    h = tf.nn.max_pool2d(h, 2, 2, "VALID")
            h = tf.reshape(h, (tf.shape(h)[0], -1))
            for i in range(0, len(dense) - 2, 2):
                h = tf.nn.relu(tf.matmul(h, dense[i]) + dense[i + 1])
            logits = tf.matmul(h, dense[-2]) + dense[-1]
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(yb, logits))
        grads = tape.gradient(loss, params)
        adam.apply(grads)
        return loss

    def epoch():
        order = np.random.permutation(samples)
        for start in range(0, samples, batch):
            index = order[start:start + batch]
            train_step(tf.convert_to_tensor(x[index]), tf.convert_to_tensor(y[index]))
    return epoch


RAW = {"torch": torch_contender, "tensorflow": tf_contender}


def contenders(engine: str, quick: bool, row: str) -> tuple[dict, int]:
    """``({name: epoch function}, samples per epoch)`` for ``row`` on ``engine``."""
    import importlib.util

    convs, hidden, batch, samples = ROWS[row]
    spec = (convs, hidden, batch, samples // 4 if quick else samples)
    x, y = make_data(spec[3])
    out = {"hl fit": hl_contender(spec, x, y)}
    if engine in RAW:
        out["raw loop"] = RAW[engine](spec, x, y)
    if engine == "tensorflow":   # Keras 3 compiles with XLA on TensorFlow by default (jit_compile="auto")
        out["hl fit xla"] = hl_contender(spec, x, y, jit_compile=True)
    if engine == "numpy" and importlib.util.find_spec("torch"):
        out["raw torch"] = torch_contender(spec, x, y)
    if engine != "numpy" and importlib.util.find_spec("keras"):
        out["keras 3"] = keras_contender(spec, x, y)
    return out, spec[3]
