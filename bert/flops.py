"""Model FLOPs per sequence and this machine's measured matmul peak, for MFU.

MFU (model FLOPs utilisation) = sequences/s x training FLOPs per sequence / peak FLOP/s.
Counts are multiply-adds x 2; training is 3 x the forward pass (forward, and backward
for activations and weights).
"""

import time

import tensorflow as tf


def encoder_flops_per_sequence(config, seq_length):
    """Forward FLOPs of the encoder's layers on one [seq_length] sequence (embeddings, heads left out)."""
    h, i, s = config.hidden_size, config.intermediate_size, seq_length
    per_layer = s * (2 * 4 * h * h + 2 * 2 * h * i) + 2 * 2 * s * s * h  # projections, FFN, attention
    return config.num_hidden_layers * per_layer


def training_flops_per_sequence(config, seq_length, num_predictions):
    """Training FLOPs of one [seq_length] sequence with `num_predictions` masked tokens."""
    h = config.hidden_size
    masked_lm = num_predictions * (2 * h * h + 2 * h * config.vocab_size)
    forward = encoder_flops_per_sequence(config, seq_length) + masked_lm + 2 * h * h
    return 3.0 * forward


def measure_matmul_peak(dtype=tf.float32, size=2048, repeats=10):
    """FLOP/s of a large square matmul on the default device (best of a few timed runs)."""
    a = tf.random.normal([size, size], dtype=tf.float32)
    a = tf.cast(a, dtype)
    matmul = tf.function(lambda x: tf.reduce_sum(tf.cast(tf.matmul(x, x), tf.float32)))
    matmul(a).numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(a).numpy()
        best = min(best, time.perf_counter() - start)
    return 2.0 * size ** 3 / best
