"""BertModel forward latency: ours (Keras 3 / TF) against `transformers`' PyTorch BertModel.

Same config, same CPU, fp32, inputs of `--batch_size` x `--seq_length`; reports the median
of `--iterations` timed calls after warm-up, and the ratio. Run:
    python -m benchmarks.forward_benchmark --config path/to/config.json
"""

import argparse
import json
import statistics
import time

import numpy as np



def median_seconds(call, iterations, warmup=3):
    for _ in range(warmup):
        call()
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_ours(config_file, inputs, iterations, jit_compile):
    import tensorflow as tf

    from bert import modeling

    model = modeling.build_model(modeling.BertModel(modeling.BertConfig.from_json_file(config_file)))
    forward = tf.function(lambda batch: model(batch)["sequence_output"], jit_compile=jit_compile)
    batch = {name: tf.constant(value) for name, value in inputs.items()}
    return median_seconds(lambda: forward(batch).numpy(), iterations)


def time_pytorch(config_file, inputs, iterations):
    import torch
    import transformers

    with open(config_file) as f:
        config = transformers.BertConfig(**json.load(f))
    model = transformers.BertModel(config).eval()
    ids, mask, segments = (torch.tensor(inputs[n], dtype=torch.long) for n in ("input_ids", "input_mask", "segment_ids"))

    def call():
        with torch.inference_mode():
            model(input_ids=ids, attention_mask=mask, token_type_ids=segments)

    return median_seconds(call, iterations)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--seq_length", type=int, default=128)
    parser.add_argument("--iterations", type=int, default=20)
    args = parser.parse_args()
    with open(args.config) as f:
        vocab_size = json.load(f)["vocab_size"]
    rng = np.random.default_rng(0)
    shape = (args.batch_size, args.seq_length)
    inputs = {"input_ids": rng.integers(0, vocab_size, shape, dtype=np.int32),
              "input_mask": np.ones(shape, np.int32), "segment_ids": np.zeros(shape, np.int32)}
    results = {
        "ours_xla": time_ours(args.config, inputs, args.iterations, jit_compile=True),
        "ours_no_xla": time_ours(args.config, inputs, args.iterations, jit_compile=False),
        "pytorch": time_pytorch(args.config, inputs, args.iterations),
    }
    for name, seconds in results.items():
        print(f"{name:12s} {seconds * 1000:8.1f} ms/batch  speed-up vs PyTorch {results['pytorch'] / seconds:.2f}x")


if __name__ == "__main__":
    main()
