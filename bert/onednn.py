"""oneDNN's forward-only path on a CPU: cached weight layouts, fused LayerNorm, attention chunks.

TensorFlow's x86 builds run matrix products, softmax and more through oneDNN. Three faster
paths are only valid, or only tested, when nothing trains, so
`precision.configure(forward_only=True)` turns them on (`enable_forward_only()`) for runs
that only predict or extract features and export nothing (a SavedModel must not hold
oneDNN-only ops):

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
- Attention in chunks of examples (`attention_examples_per_chunk`). A forward computes
  each chunk's scores, softmax and context as separate ops, so that the chunks' kernels run
  side by side on TensorFlow's inter-op threads. A chunk holds as many examples as their
  [examples, heads, seq, seq] scores fit in one core's L2 cache (the size the CPU reports),
  at least one: two chunks of half the batch gained almost nothing. On the Sapphire Rapids
  CPU (2 MiB L2), MiniLM batch 8 in bf16, a forward took 104.7 instead of 130.6 ms at seq 384
  and 167.9 instead of 223.4 ms at seq 512; at seq 128 (chunks of 4) it was unchanged
  (benchmarks/README.md).

Neither the weight caching nor `_MklLayerNorm` exists without oneDNN (`TF_ENABLE_ONEDNN_OPTS=0`,
non-x86 builds) or on a GPU, and `precision.plan` turns the whole path on only with oneDNN.

Example:
    >>> if onednn.available():
    ...     onednn.enable_forward_only(attention_cache_bytes=2 * 1024 ** 2)
    >>> y = onednn.layer_norm(x, gamma, beta, epsilon=1e-12)  # [..., H] -> [..., H], x's dtype
    >>> onednn.attention_examples_per_chunk(batch_size=8, num_heads=12, seq_length=384, dtype=tf.bfloat16)
    1
"""

import os

import tensorflow as tf
from tensorflow.python.framework import op_def_registry  # pylint: disable=no-name-in-module
from tensorflow.python.util import _pywrap_util_port  # pylint: disable=no-name-in-module

FROZEN_WEIGHTS_VARIABLE = "TF_ONEDNN_ASSUME_FROZEN_WEIGHTS"
FUSED_LAYER_NORM_OP = "_MklLayerNorm"

_forward_only = False
_attention_cache_bytes = None


def available():
    """Whether this process runs oneDNN's CPU kernels: a oneDNN build, not turned off, no GPU visible."""
    return (_pywrap_util_port.IsMklEnabled() and op_def_registry.get(FUSED_LAYER_NORM_OP) is not None
            and not tf.config.list_physical_devices("GPU"))


def enable_forward_only(attention_cache_bytes=None):
    """Turns on weight caching, the fused LayerNorm and chunked attention for the rest of this process.

    Call before the first TensorFlow op runs. A value of TF_ONEDNN_ASSUME_FROZEN_WEIGHTS the
    user set is kept.

    Args:
        attention_cache_bytes: how many bytes of attention scores one chunk may hold (one
            core's L2 cache); None: attention in one piece.
    """
    global _forward_only, _attention_cache_bytes
    _forward_only = True
    _attention_cache_bytes = attention_cache_bytes
    os.environ.setdefault(FROZEN_WEIGHTS_VARIABLE, "1")


def forward_only_enabled():
    return _forward_only


def attention_examples_per_chunk(batch_size, num_heads, seq_length, dtype):
    """How many examples one attention chunk of a forward-only run holds: a divisor of `batch_size`.

    The most examples whose scores [examples, num_heads, seq_length, seq_length] in `dtype`
    fit the cache budget given to `enable_forward_only`, at least one; the whole batch when
    there is no budget or the batch size is not static (None).
    """
    if not _forward_only or not _attention_cache_bytes or batch_size is None:
        return batch_size
    example_bytes = num_heads * seq_length * seq_length * tf.as_dtype(dtype).size
    fitting = max(1, _attention_cache_bytes // example_bytes)
    return max(divisor for divisor in range(1, min(fitting, batch_size) + 1) if batch_size % divisor == 0)


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
