"""SQuAD inference: span logits of every window in fixed-size batches, timed, and the throughput record.

Example:
    >>> start_logits, end_logits, seconds = predict_logits(model, features, batch_size=8, jit_compile=True)
    >>> throughput_record(seconds, len(features), batch_size=8)["latency_ms_p99"]
"""

import time

import numpy as np
import tensorflow as tf

from bert.squad.features import INPUT_NAMES


def predict_logits(model, features, batch_size, jit_compile):
    """Start and end logits of every window, float32 [num_windows, max_seq_length] each.

    The last batch is padded to `batch_size` so the compiled forward sees one shape.

    Returns:
        (start_logits, end_logits, seconds): `seconds` lists each batch's wall time.
    """

    @tf.function(jit_compile=jit_compile)
    def forward(batch):
        outputs = model(batch, training=False)
        return outputs["start_logits"], outputs["end_logits"]

    num_windows, seq_length = len(features), features.max_seq_length
    start_logits = np.zeros([num_windows, seq_length], np.float32)
    end_logits = np.zeros([num_windows, seq_length], np.float32)
    seconds = []
    for begin in range(0, num_windows, batch_size):
        arrays = features.arrays(begin, begin + batch_size)
        count = len(arrays["input_ids"])
        batch = {name: np.pad(arrays[name], [(0, batch_size - count), (0, 0)]) for name in INPUT_NAMES}
        started = time.perf_counter()
        start, end = forward(batch)
        start, end = start.numpy(), end.numpy()
        seconds.append(time.perf_counter() - started)
        start_logits[begin:begin + count] = start[:count]
        end_logits[begin:begin + count] = end[:count]
    return start_logits, end_logits, seconds


def throughput_record(seconds, num_windows, batch_size):
    """Sentences/s and batch latency percentiles (ms), the first (compiling) batch left out when possible.

    Returns:
        The "predict" event of the JSON-lines log: windows, batch_size, sentences_per_second,
        latency_ms_avg / _p50 / _p90 / _p95 / _p99 and first_batch_seconds.
    """
    timed = seconds[1:] if len(seconds) > 1 else seconds
    timed_windows = num_windows - batch_size if len(seconds) > 1 else num_windows
    total = sum(timed)
    p50, p90, p95, p99 = np.percentile(np.asarray(timed) * 1000.0, [50, 90, 95, 99])
    return {"event": "predict", "windows": num_windows, "batch_size": batch_size,
            "sentences_per_second": round(timed_windows / max(total, 1e-9), 2),
            "latency_ms_avg": round(1000.0 * total / len(timed), 2), "latency_ms_p50": round(p50, 2),
            "latency_ms_p90": round(p90, 2), "latency_ms_p95": round(p95, 2), "latency_ms_p99": round(p99, 2),
            "first_batch_seconds": round(seconds[0], 3)}
