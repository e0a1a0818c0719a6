"""oneDNN's forward-only kernels: the fused LayerNorm against the float32 composite, a
forward-only run (cached weights, fused LayerNorm) against TensorFlow's default kernels, and
attention in chunks of examples against attention in one piece."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert import modeling, onednn
from conftest import REPO_ROOT, TINY_CONFIG

pytestmark = pytest.mark.skipif(not onednn.available(), reason="this TensorFlow runs without oneDNN")


def float64_layer_norm(x, gamma, beta):
    x = np.asarray(x, np.float64)
    centered = x - x.mean(-1, keepdims=True)
    return centered / np.sqrt((centered ** 2).mean(-1, keepdims=True) + modeling.LAYER_NORM_EPSILON) * gamma + beta


@pytest.mark.parametrize("dtype, tolerance", [(tf.float32, 2e-5), (tf.bfloat16, 0.07)])
def test_fused_layer_norm_matches_float64_as_closely_as_the_composite(dtype, tolerance):
    rng = np.random.default_rng(0)
    x = tf.cast(rng.normal(1.0, 3.0, (96, 384)).astype(np.float32), dtype)
    gamma, beta = (tf.constant(rng.normal(1.0, 0.5, 384).astype(np.float32)) for _ in range(2))
    fused = tf.function(lambda x: onednn.layer_norm(x, gamma, beta, modeling.LAYER_NORM_EPSILON))(x)
    composite = modeling.LayerNorm()
    composite.build(x.shape)
    composite.gamma.assign(gamma)
    composite.beta.assign(beta)
    expected = float64_layer_norm(tf.cast(x, tf.float32).numpy(), gamma.numpy(), beta.numpy())
    assert fused.dtype == dtype
    fused_error = np.abs(tf.cast(fused, tf.float32).numpy() - expected).max()
    composite_error = np.abs(composite(x).numpy() - expected).max()
    assert fused_error < tolerance, fused_error
    # bf16 rounds the output (and gamma, beta) to 8 bits: within two bf16 steps of the exact one.
    assert fused_error <= composite_error + (tolerance if dtype == tf.bfloat16 else 1e-5)


FORWARD_DRIVER = """
import json, os, sys
import keras, numpy as np, tensorflow as tf
from bert import modeling, onednn
from bert.train import precision
from benchmarks.op_profile import op_type_counts
config_fields, policy, onednn_inference, logdir = json.loads(sys.argv[1])
plan_flags = dict(amp=policy == "bf16", amp_dtype="bfloat16", use_xla=False, forward_only=True,
                  onednn_inference=onednn_inference)
precision.configure(**plan_flags)
keras.utils.set_random_seed(1)
model = modeling.build_model(modeling.BertForQuestionAnswering(modeling.BertConfig.from_dict(config_fields)), 16)
for variable in model.weights:  # as a checkpoint loads after the eager build call: no kernel may keep the old ones
    variable.assign(variable * 1.5 + 0.01)
forward = tf.function(lambda batch: model(batch, training=False))
rng = np.random.default_rng(2)
batches = [{"input_ids": rng.integers(0, config_fields["vocab_size"], (4, 16)).astype(np.int32),
            "input_mask": (np.arange(16) < rng.integers(4, 17, (4, 1))).astype(np.int32),
            "segment_ids": np.zeros((4, 16), np.int32)} for _ in range(3)]
logits = [forward(batch)["start_logits"].numpy().tolist() for batch in batches]
counts = op_type_counts(lambda: forward(batches[0])["start_logits"].numpy(), logdir)
print(json.dumps({"logits": logits, "counts": counts, "frozen": os.environ.get(onednn.FROZEN_WEIGHTS_VARIABLE),
                  "plan": precision.plan(**plan_flags).describe()}))
"""


def forward_in_child(tmp_path, policy, onednn_inference):
    argument = json.dumps([TINY_CONFIG, policy, onednn_inference, str(tmp_path / f"trace_{policy}_{onednn_inference}")])
    result = subprocess.run([sys.executable, "-c", FORWARD_DRIVER, argument], capture_output=True, text=True,
                            cwd=REPO_ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize("policy, tolerance", [("fp32", 1e-5), ("bf16", 0.02)])
def test_a_forward_only_run_gives_the_default_kernels_logits_on_every_batch(tmp_path, policy, tolerance):
    """Cached weights stay right from batch to batch; the fused LayerNorm replaces every composite one."""
    fast = forward_in_child(tmp_path, policy, onednn_inference=True)
    default = forward_in_child(tmp_path, policy, onednn_inference=False)
    assert "oneDNN forward-only kernels on" in fast["plan"] and "oneDNN" not in default["plan"]
    assert (fast["frozen"], default["frozen"]) == ("1", None)
    layer_norms = 2 * TINY_CONFIG["num_hidden_layers"] + 1
    assert fast["counts"].get("_MklLayerNorm") == layer_norms and "Mean" not in fast["counts"], fast["counts"]
    assert "_MklLayerNorm" not in default["counts"] and default["counts"]["Mean"] == 2 * layer_norms
    mismatch = np.abs(np.subtract(fast["logits"], default["logits"])).max()
    between_batches = np.abs(np.subtract(default["logits"][0], default["logits"][1])).max()
    assert mismatch < tolerance and between_batches > 10 * mismatch, (mismatch, between_batches)


@pytest.fixture
def forward_only_path(monkeypatch):
    """Turns on the forward-only path in this process, weight caching aside; returns a budget setter."""
    monkeypatch.setattr(onednn, "_forward_only", True)
    return lambda cache_bytes: monkeypatch.setattr(onednn, "_attention_cache_bytes", cache_bytes)


def test_an_attention_chunk_holds_the_most_examples_whose_scores_fit_the_budget(forward_only_path):
    forward_only_path(2 * 1024 ** 2)
    chunk = onednn.attention_examples_per_chunk
    assert chunk(8, 12, 384, tf.bfloat16) == 1  # 3.4 MiB per example: over the budget, still one
    assert chunk(8, 12, 128, tf.bfloat16) == 4  # 384 KiB per example: 5 fit, 4 divides 8
    assert chunk(6, 12, 128, tf.bfloat16) == 3
    assert chunk(8, 12, 128, tf.float32) == 2
    assert chunk(2, 12, 64, tf.bfloat16) == 2  # the whole batch fits
    assert chunk(None, 12, 384, tf.bfloat16) is None  # batch not static: one piece
    forward_only_path(None)
    assert chunk(8, 12, 384, tf.bfloat16) == 8


def float64_attention(query, key, value, mask):
    scores = query @ np.swapaxes(key, -1, -2) / np.sqrt(query.shape[-1])
    scores = scores + np.where(mask, 0.0, modeling.ATTENTION_MASK_BIAS)[:, None, None, :]
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    return (probs / probs.sum(-1, keepdims=True)) @ value


@pytest.mark.parametrize("dtype, tolerance", [(tf.float32, 1e-5), (tf.bfloat16, 0.05)])
def test_attention_in_chunks_gives_each_example_its_own_attention(dtype, tolerance):
    """In a graph, where oneDNN fuses each chunk's matmul and mask add (with tf.split's chunks
    that fused op read the first example's mask for every example: errors of about 9)."""
    rng = np.random.default_rng(3)
    query, key, value = (rng.normal(0.0, 2.0, (6, 4, 16, 8)) for _ in range(3))
    mask = np.arange(16) < rng.integers(3, 17, (6, 1))  # a different padding per example
    mask_bias = tf.constant((1.0 - mask[:, None, None, :]) * modeling.ATTENTION_MASK_BIAS, tf.float32)
    inputs = [tf.cast(tensor, dtype) for tensor in (query, key, value)]
    expected = float64_attention(*(tf.cast(tensor, tf.float64).numpy() for tensor in inputs), mask)
    whole = tf.function(lambda: modeling._attention_context(*inputs, mask_bias, None))()
    for examples_per_chunk in (1, 2, 3):
        chunked = tf.function(lambda n=examples_per_chunk: modeling._attention_context(*inputs, mask_bias, n))()
        assert chunked.dtype == dtype and chunked.shape == (6, 4, 16, 8)
        error = np.abs(tf.cast(chunked, tf.float64).numpy() - expected).max()
        assert error < tolerance, (examples_per_chunk, error)
        assert np.abs(tf.cast(chunked - whole, tf.float32).numpy()).max() <= tolerance / 10


def test_a_forward_only_model_splits_its_attention_and_keeps_its_logits(forward_only_path):
    config = modeling.BertConfig.from_dict(TINY_CONFIG)
    keras.utils.set_random_seed(4)
    model = modeling.build_model(modeling.BertForQuestionAnswering(config), 16)
    for variable in model.weights:  # attention far from uniform, so that a mixed-up chunk would show
        variable.assign(variable * 20.0)
    rng = np.random.default_rng(5)
    batch = {"input_ids": rng.integers(0, config.vocab_size, (4, 16)).astype(np.int32),
             "input_mask": (np.arange(16) < rng.integers(4, 17, (4, 1))).astype(np.int32),
             "segment_ids": np.zeros((4, 16), np.int32)}
    logits, attention_matmuls = {}, {}
    for name, budget in (("one piece", None), ("one example per chunk", 4 * 16 * 16 * 4)):
        forward_only_path(budget)
        forward = tf.function(lambda batch: model(batch, training=False)["start_logits"])
        graph = forward.get_concrete_function(batch).graph
        attention_matmuls[name] = sum(op.type == "BatchMatMulV2" for op in graph.get_operations())
        logits[name] = forward(batch).numpy()
    # scores and context: two matmuls per layer for the whole batch, or two for each of its 4 examples
    added = attention_matmuls["one example per chunk"] - attention_matmuls["one piece"]
    assert added == 2 * (4 - 1) * config.num_hidden_layers, attention_matmuls
    np.testing.assert_allclose(logits["one example per chunk"], logits["one piece"], atol=1e-5)
    assert np.abs(logits["one piece"][0] - logits["one piece"][1]).max() > 0.1
