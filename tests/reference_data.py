"""Deterministic inputs behind the numeric fixtures of ``tests/fixtures/reference`` (see its README).

The fixtures hold the outputs of the reference implementations' own code (run outside this
project) on inputs made by the functions below; the tests rebuild the same inputs and compare
posekit's outputs with the stored numbers. Everything is integer arithmetic plus IEEE-exact
operations, so the inputs are identical on every machine.
"""

from __future__ import annotations

import zlib

import numpy as np


def uniform(n: int, key: str) -> np.ndarray:
    """``n`` numbers in [0, 1) from SplitMix64 over a counter seeded with ``crc32(key)``."""
    seed = np.uint64(zlib.crc32(key.encode()))
    with np.errstate(over="ignore"):
        z = (np.arange(n, dtype=np.uint64) + seed * np.uint64(1 << 32)) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(2 ** 53)


def tensor_values(key: str, shape: tuple[int, ...]) -> np.ndarray:
    """The value of state-dict entry ``key`` in the fixture checkpoints: conv weights U(-a, a) with
    ``a = fan_in ** -0.5``, BatchNorm scales and running variances U(0.5, 1.5), biases and running
    means U(-0.1, 0.1), ``num_batches_tracked`` 0."""
    n = int(np.prod(shape)) if len(shape) else 1
    u = uniform(n, key).reshape(shape)
    name = key.rsplit(".", 1)[-1]
    if name == "num_batches_tracked":
        return np.zeros(shape, np.int64)
    if name == "running_var":
        return (0.5 + u).astype(np.float32)
    if name == "running_mean":
        return ((2 * u - 1) * 0.1).astype(np.float32)
    if len(shape) == 4:
        fan_in = shape[1] * shape[2] * shape[3]
        return ((2 * u - 1) * np.sqrt(1.0 / fan_in)).astype(np.float32)
    if name == "weight":
        return (0.5 + u).astype(np.float32)
    return ((2 * u - 1) * 0.1).astype(np.float32)


def reference_predictions(gt: np.ndarray, head: np.ndarray) -> np.ndarray:
    """(N, 16, 2) integer-pixel predictions around ``gt`` (N, 16, 2): joint ``j`` off by up to
    ``1.6 x (0.3 + 0.04 j)`` head sizes along each axis, every 211th entry NaN."""
    n, k = gt.shape[:2]
    u = uniform(n * k, "pckh-x").reshape(n, k)
    v = uniform(n * k, "pckh-y").reshape(n, k)
    half = head[:, None] * (0.3 + 0.04 * np.arange(k))[None, :] * 1.6
    pred = np.round(gt + np.stack([half * (2 * u - 1), half * (2 * v - 1)], axis=-1))
    pred[(np.arange(n * k).reshape(n, k) % 211) == 0] = np.nan
    return pred


def decoding_heatmaps() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(heatmaps (6, 16, 64, 64), centers (6, 2), scales (6,))``: planted peaks, per sample 0 generic,
    1 x on the border, 2 y on the border, 3 peaks above 1 (a tie once clamped at 1), 4 equal
    neighbours, 5 everything negative; the crop boxes (side ``scale * 200`` px) they belong to."""
    n, k, h = 6, 16, 64
    a = uniform(n * k * h * h, "decode-noise").reshape(n, k, h, h) * 0.2 - 0.1
    px = (uniform(n * k, "decode-x").reshape(n, k) * (h - 2)).astype(int) + 1
    py = (uniform(n * k, "decode-y").reshape(n, k) * (h - 2)).astype(int) + 1
    px[1, ::2], px[1, 1::2] = 0, h - 1
    py[2, ::2], py[2, 1::2] = 0, h - 1
    peak = 0.5 + 0.4 * uniform(n * k, "decode-peak").reshape(n, k)
    peak[3] = 1.3
    rel = 0.2 + 0.6 * uniform(n * k * 4, "decode-neighbours").reshape(n, k, 4)
    rel[4, :, 1] = rel[4, :, 0]
    rel[4, :, 3] = rel[4, :, 2]
    rel[3, :, 0] = 1.1 / 1.3
    for i in range(n):
        for j in range(k):
            x, y, p = px[i, j], py[i, j], peak[i, j]
            for (dx, dy), r in zip(((1, 0), (-1, 0), (0, 1), (0, -1)), rel[i, j]):
                if 0 <= x + dx < h and 0 <= y + dy < h:
                    a[i, j, y + dy, x + dx] = p * r
            a[i, j, y, x] = p
    a[5] -= 2.0
    centers = np.stack([300 + 40 * np.arange(n), 250 + 30 * np.arange(n)], axis=1).astype(np.float64)
    scales = 1.5 + 0.5 * np.arange(n)
    return a.astype(np.float32), centers, scales
