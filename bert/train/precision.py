"""Mixed precision and compilation choices shared by every script.

`--amp` turns on mixed precision with `--amp_dtype` (`float16`, with dynamic loss scaling
in training, or `bfloat16`); `--use_xla` asks for `tf.function(jit_compile=True)`. On a
CPU, bf16 runs fastest on oneDNN's kernels and slower under XLA, so XLA is declined
there with a log line rather than silently slowing the run down.

Example:
    >>> jit_compile = configure(amp=True, amp_dtype="bfloat16", use_xla=True)
    >>> step = tf.function(train_step, jit_compile=jit_compile)
"""

import keras
import tensorflow as tf
from absl import logging

from bert.errors import InputError

POLICIES = {"float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}


def configure(amp, amp_dtype, use_xla):
    """Sets the global Keras dtype policy; returns whether to compile steps with XLA."""
    if amp and amp_dtype not in POLICIES:
        raise InputError(f"--amp_dtype: expected one of {sorted(POLICIES)}, got {amp_dtype!r}")
    keras.mixed_precision.set_global_policy(POLICIES[amp_dtype] if amp else "float32")
    if use_xla and amp and amp_dtype == "bfloat16" and not tf.config.list_physical_devices("GPU"):
        logging.info("bf16 on CPU: not compiling with XLA (oneDNN's bf16 kernels are faster than XLA's here)")
        return False
    return use_xla


def compute_dtype():
    return keras.mixed_precision.global_policy().compute_dtype
