"""Batch key diversification against raw ``cryptography`` ECB over the same blocks.

One level of diversification (a city root and 1,000,000 card factors, Part 9 §7.3) through
:func:`sbkcard.keys.diversify_batch`, which joins the factors, builds ``f`` or ``f ‖ ¬f``
blocks, runs one ECB call and splits the result into per-card keys, against the single
ECB call alone over the already-built input (the floor any Python implementation has to
pay). Target: ratio ≥ 0.5, i.e. the batch costs at most twice the bare cipher.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import BlockCipherAlgorithm, Cipher, algorithms, modes

from benchmarks.harness import Row
from sbkcard.keys import Algorithm, diversify, diversify_batch

CARDS = 1_000_000
ROUNDS = 3
_INVERT = bytes(255 - b for b in range(256))


def _seconds(func: Callable[[], object]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def _compare(
    label: str, algorithm: Algorithm, key: bytes, raw: BlockCipherAlgorithm, factors: list[bytes]
) -> Row:
    blocks = b"".join(f + f.translate(_INVERT) for f in factors)

    def ours() -> list[bytes]:
        return diversify_batch(key, factors, algorithm)

    def peer() -> bytes:
        return Cipher(raw, modes.ECB()).encryptor().update(blocks)

    last = ours()[-1]
    if last != diversify(key, factors[-1:], algorithm) or last != peer()[-len(key) :]:
        raise AssertionError(f"{label}: batch and per-card diversification disagree")

    ours_times, peer_times = [], []
    for _ in range(ROUNDS):
        ours_times.append(_seconds(ours))
        peer_times.append(_seconds(peer))
    return Row(
        name=f"diversify_batch {label}, {CARDS:,} cards",
        ours=CARDS / statistics.median(ours_times),
        peer=CARDS / statistics.median(peer_times),
        unit="keys/s",
        peer_name="cryptography ECB, same blocks",
        target="≥ 0.5x",
    )


def run() -> list[Row]:
    """Both environments: 3DES with a double-length parent, and SM4."""
    factors = [os.urandom(8) for _ in range(CARDS)]
    des, sm4 = os.urandom(16), os.urandom(16)
    return [
        _compare("3DES double-length", Algorithm.DES, des, TripleDES(des + des[:8]), factors),
        _compare("SM4", Algorithm.SM4, sm4, algorithms.SM4(sm4), factors),
    ]
