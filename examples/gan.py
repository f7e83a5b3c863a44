"""A small GAN with a custom ``train_step``, written once for every backend.

    HIGHLEVEL_BACKEND=torch python examples/gan.py --epochs 30

The generator maps 4-D Gaussian noise to numbers; the discriminator tells them from
samples of N(4, 1.25^2). Both are trained inside one overridden ``train_step``
using only ``hl.ops.value_and_grad`` and ``optimizer.apply`` — the same code runs on
NumPy, PyTorch and TensorFlow (Keras 3 needs one train_step per backend). The
generated mean and standard deviation approach the target's as training goes.
"""

from __future__ import annotations

import argparse

import numpy as np

import highlevel as hl
from highlevel import ops

TARGET_MEAN, TARGET_STD = 4.0, 1.25


class GAN(hl.Model):
    """generator: (batch, latent) -> (batch, 1); discriminator: (batch, 1) -> logits (batch, 1)."""

    def __init__(self, generator, discriminator, latent_dim, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.d_loss_tracker = hl.metrics.Mean(name="d_loss")
        self.g_loss_tracker = hl.metrics.Mean(name="g_loss")

    def compile(self, d_optimizer, g_optimizer):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.bce = hl.losses.BinaryCrossentropy(from_logits=True)

    def call(self, noise, training=None):
        return self.generator(noise, training=training)

    def train_step(self, data):
        real = data[0] if isinstance(data, tuple) else data
        batch = ops.shape(real)[0]
        ones, zeros = ops.ones((batch, 1)), ops.zeros((batch, 1))

        # 1) Discriminator: real samples -> 1, generated ones -> 0.
        fake = ops.stop_gradient(self.generator(ops.normal((batch, self.latent_dim)), training=True))
        d_vars = self.discriminator.trainable_weights

        def d_loss_fn():
            return ops.add(self.bce(ones, self.discriminator(real, training=True)),
                           self.bce(zeros, self.discriminator(fake, training=True)))

        d_loss, d_grads = ops.value_and_grad(d_loss_fn, d_vars)
        self.d_optimizer.apply(d_grads, d_vars)

        # 2) Generator: make the discriminator say 1 on generated samples.
        noise = ops.normal((batch, self.latent_dim))
        g_vars = self.generator.trainable_weights

        def g_loss_fn():
            return self.bce(ones, self.discriminator(self.generator(noise, training=True), training=True))

        g_loss, g_grads = ops.value_and_grad(g_loss_fn, g_vars)
        self.g_optimizer.apply(g_grads, g_vars)

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


def build_gan(latent_dim: int) -> GAN:
    generator = hl.Sequential([hl.Input((latent_dim,)), hl.layers.Dense(16, activation="relu"),
                               hl.layers.Dense(1)], name="generator")
    discriminator = hl.Sequential([hl.Input((1,)), hl.layers.Dense(32, activation="relu"),
                                   hl.layers.Dense(1)], name="discriminator")
    return GAN(generator, discriminator, latent_dim)


def generated_moments(gan: GAN, samples: int = 2000):
    """Mean and std of ``samples`` generated numbers."""
    noise = np.random.normal(size=(samples, gan.latent_dim)).astype(np.float32)
    out = gan.generator.predict(noise, batch_size=samples, verbose=0)
    return float(np.mean(out)), float(np.std(out))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--samples", type=int, default=4096)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--latent-dim", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    hl.utils.set_random_seed(args.seed)
    real = np.random.default_rng(args.seed).normal(TARGET_MEAN, TARGET_STD, size=(args.samples, 1))
    gan = build_gan(args.latent_dim)
    gan.compile(d_optimizer=hl.optimizers.Adam(learning_rate=1e-3, beta_1=0.5),
                g_optimizer=hl.optimizers.Adam(learning_rate=1e-3, beta_1=0.5))

    moments = [generated_moments(gan)]

    def report(epoch, logs):
        moments.append(generated_moments(gan))
        mean, std = moments[-1]
        print(f"epoch {epoch + 1:3d}  d_loss {logs['d_loss']:.4f}  g_loss {logs['g_loss']:.4f}  "
              f"generated mean {mean:7.3f}  std {std:6.3f}", flush=True)

    print(f"backend: {hl.backend.name()}   target mean {TARGET_MEAN}  std {TARGET_STD}")
    print(f"before training: generated mean {moments[0][0]:.3f}  std {moments[0][1]:.3f}")
    gan.fit(real.astype(np.float32), batch_size=args.batch_size, epochs=args.epochs, verbose=0,
            callbacks=[hl.callbacks.LambdaCallback(on_epoch_end=report)])
    mean, std = moments[-1]
    print(f"final: generated mean {mean:.3f} (target {TARGET_MEAN})  std {std:.3f} (target {TARGET_STD})")
    return moments


if __name__ == "__main__":
    main()
