"""oneDNN's forward-only kernels on a CPU: weights cached in the kernels' layout, and a fused LayerNorm.

TensorFlow's x86 builds run matrix products, softmax and more through oneDNN. Two of its
faster paths are only valid when nothing trains, so `precision.configure(forward_only=True)`
turns them on (`enable_forward_only()`) for runs that only predict or extract features and
export nothing (a SavedModel must not hold oneDNN-only ops):

- Weight caching (`TF_ONEDNN_ASSUME_FROZEN_WEIGHTS=1`). Without it, TensorFlow hands each
  matmul + bias its weights in their plain row-major layout, which oneDNN's AMX and
  AVX-512 (brgemm) inner-product kernels do not take, so it falls back to a generic GEMM.
  With it, each matmul kernel reorders its weights once, on its first call, into the
  blocked layout those kernels want, and reuses them. On a Sapphire Rapids CPU (AMX), a
  bf16 [3072, 384] x [384, 1536] matmul + bias + GELU took 4.2 ms instead of 6.1 ms.
  TensorFlow reads the variable once, before its first oneDNN kernel runs, and from then
  on every matmul kernel of the process keeps the weights of its first call. So it must be
  set before anything runs, the model must be called through one `tf.function` after its
  weights are loaded, and the process must never train.
- `_MklLayerNorm`, oneDNN's LayerNorm in one pass, float32 statistics for a bf16 input,
  on a bf16 or float32 input as it is (no widening cast and back). Grappler's remapper only
  fuses LayerNorm subgraphs whose gamma and beta are constants, so `layer_norm` creates the
  op itself. It has no gradient and no XLA kernel: `modeling.LayerNorm` uses it only
  outside XLA and training.

Neither exists without oneDNN (`TF_ENABLE_ONEDNN_OPTS=0`, non-x86 builds) or on a GPU.

Example:
    >>> if onednn.available():
    ...     onednn.enable_forward_only()
    >>> y = onednn.layer_norm(x, gamma, beta, epsilon=1e-12)  # [..., H] -> [..., H], x's dtype
"""

import os

import tensorflow as tf
from tensorflow.python.framework import op_def_registry  # pylint: disable=no-name-in-module
from tensorflow.python.util import _pywrap_util_port  # pylint: disable=no-name-in-module

FROZEN_WEIGHTS_VARIABLE = "TF_ONEDNN_ASSUME_FROZEN_WEIGHTS"
FUSED_LAYER_NORM_OP = "_MklLayerNorm"

_fused_layer_norm = False


def available():
    """Whether this process runs oneDNN's CPU kernels: a oneDNN build, not turned off, no GPU visible."""
    return (_pywrap_util_port.IsMklEnabled() and op_def_registry.get(FUSED_LAYER_NORM_OP) is not None
            and not tf.config.list_physical_devices("GPU"))


def enable_forward_only():
    """Turns on weight caching and the fused LayerNorm for the rest of this process.

    Call before the first TensorFlow op runs. A value of TF_ONEDNN_ASSUME_FROZEN_WEIGHTS the
    user set is kept.
    """
    global _fused_layer_norm
    _fused_layer_norm = True
    os.environ.setdefault(FROZEN_WEIGHTS_VARIABLE, "1")


def fused_layer_norm_enabled():
    return _fused_layer_norm


def layer_norm(x, gamma, beta, epsilon):
    """oneDNN's LayerNorm over the last axis of a rank-2 or rank-3 `x`, with gamma and beta [H].

    Returns x's dtype and shape. For a bf16 `x`, oneDNN computes the mean and variance in
    float32; gamma and beta are rounded to bf16. Only inside a `tf.function` (it adds the op
    to the graph being traced).
    """
    graph = tf.compat.v1.get_default_graph()
    operation = graph.create_op(
        FUSED_LAYER_NORM_OP, [x, *(tf.cast(tf.convert_to_tensor(weight), x.dtype) for weight in (gamma, beta))],
        [x.dtype], name="MklLayerNorm",
        attrs={"T": tf.compat.v1.AttrValue(type=x.dtype.as_datatype_enum),
               "epsilon": tf.compat.v1.AttrValue(f=epsilon)})
    return operation.outputs[0]
