"""Batched, timed inference of any model here, and the throughput record the logs share.

The last batch is padded to the batch size, so a compiled forward sees one shape.

Example:
    >>> outputs, seconds = predict_outputs(model, len(features), features.arrays, ("start_logits", "end_logits"),
    ...                                    batch_size=8, jit_compile=True)
    >>> throughput_record(seconds, len(features), batch_size=8)["latency_ms_p99"]
"""

import time

import numpy as np
import tensorflow as tf

INPUT_NAMES = ("input_ids", "input_mask", "segment_ids")


def predict_outputs(model, num_examples, arrays_of, output_names, batch_size, jit_compile):
    """The named float32 outputs of `model` for every example, and each batch's wall time.

    Args:
        model: called on a dict of int32 `INPUT_NAMES` arrays [batch, max_seq_length];
            returns a dict holding `output_names`.
        num_examples: how many examples there are.
        arrays_of: `arrays_of(begin, end)` returns a dict holding the `INPUT_NAMES` arrays
            of examples `begin:end`.
        output_names: which outputs to keep, e.g. ("logits",).
        batch_size: examples per forward.
        jit_compile: compile the forward with XLA.

    Returns:
        ({name: float32 array [num_examples, ...]}, seconds): `seconds` lists each batch's
        wall time, the first (which compiles) included.
    """

    @tf.function(jit_compile=jit_compile)
    def forward(batch):
        outputs = model(batch, training=False)
        return {name: tf.cast(outputs[name], tf.float32) for name in output_names}

    collected = {name: [] for name in output_names}
    seconds = []
    for begin in range(0, num_examples, batch_size):
        arrays = arrays_of(begin, min(begin + batch_size, num_examples))
        count = len(arrays["input_ids"])
        batch = {name: np.pad(arrays[name], [(0, batch_size - count), (0, 0)]) for name in INPUT_NAMES}
        started = time.perf_counter()
        outputs = {name: value.numpy() for name, value in forward(batch).items()}
        seconds.append(time.perf_counter() - started)
        for name, value in outputs.items():
            collected[name].append(value[:count])
    return {name: np.concatenate(parts) for name, parts in collected.items()}, seconds


def throughput_record(seconds, num_examples, batch_size):
    """Sentences/s and batch latency percentiles (ms), the first (compiling) batch left out when possible.

    Returns:
        The "predict" event of the JSON-lines log: windows (examples), batch_size,
        sentences_per_second, latency_ms_avg / _p50 / _p90 / _p95 / _p99 and first_batch_seconds.
    """
    timed = seconds[1:] if len(seconds) > 1 else seconds
    timed_examples = num_examples - batch_size if len(seconds) > 1 else num_examples
    total = sum(timed)
    p50, p90, p95, p99 = np.percentile(np.asarray(timed) * 1000.0, [50, 90, 95, 99])
    return {"event": "predict", "windows": num_examples, "batch_size": batch_size,
            "sentences_per_second": round(timed_examples / max(total, 1e-9), 2),
            "latency_ms_avg": round(1000.0 * total / len(timed), 2), "latency_ms_p50": round(p50, 2),
            "latency_ms_p90": round(p90, 2), "latency_ms_p95": round(p95, 2), "latency_ms_p99": round(p99, 2),
            "first_batch_seconds": round(seconds[0], 3)}
