"""SQuAD fine-tuning throughput of the real training step, in sentences (windows) per second.

For every precision x batch size, builds what `run_squad.py` trains: `BertForQuestionAnswering`,
the AdamW optimizer (fp16: with loss scaling), and `training.make_train_step` with the
SQuAD loss, on the strategy `distribution.create_strategy()` picks (all visible GPUs).
One random batch of windows is fed repeatedly through `distribute_datasets_from_function`;
`--warmup_steps` untimed steps (compilation) come first, then `--steps` timed ones, each
ending when its loss is on the host. Weights are random: speed does not depend on them.

    python -m benchmarks.squad_train_benchmark --bert_model=base --batch_sizes=2,4 \
        --precisions=fp32,bf16 --seq_length=384
"""

import argparse
import json
import time

import numpy as np


from benchmarks.squad_inference_benchmark import (
    GOOGLE_CONFIGS, PRECISIONS, load_config, positive_ints, precision_list)


def benchmark(config, precision_name, use_xla, batch_size, seq_length, num_accumulation_steps, steps, warmup_steps):
    """One result dict: global batch, step time and sentences/s of the timed steps."""
    import keras
    import tensorflow as tf

    from bert.train import distribution
    from bert.train import losses
    from bert import modeling
    from bert.train import optimization
    from bert.train import precision
    from bert.train import training

    amp, amp_dtype = PRECISIONS[precision_name]
    jit_compile = precision.configure(amp, amp_dtype, use_xla).training
    keras.utils.set_random_seed(0)
    strategy = distribution.create_strategy()
    per_replica_batch = batch_size * num_accumulation_steps
    global_batch = per_replica_batch * strategy.num_replicas_in_sync
    with strategy.scope():
        model = modeling.build_model(modeling.BertForQuestionAnswering(config), seq_length)
        optimizer = optimization.create_optimizer("adam", 5e-5, steps + warmup_steps, 0,
                                                  loss_scaling=amp and amp_dtype == "float16")
        optimizer.build(model.trainable_variables)
    rng = np.random.default_rng(0)
    batch = {"input_ids": rng.integers(1000, config.vocab_size, (per_replica_batch, seq_length), dtype=np.int32),
             "input_mask": np.ones((per_replica_batch, seq_length), np.int32),
             "segment_ids": (np.arange(seq_length) >= seq_length // 4).astype(np.int32)[None].repeat(
                 per_replica_batch, axis=0),
             "start_positions": rng.integers(0, seq_length, per_replica_batch, dtype=np.int32),
             "end_positions": rng.integers(0, seq_length, per_replica_batch, dtype=np.int32)}
    dataset = strategy.distribute_datasets_from_function(lambda _: tf.data.Dataset.from_tensors(batch).repeat())
    iterator = iter(dataset)
    train_step = training.make_train_step(strategy, model, optimizer, losses.SQUAD, num_accumulation_steps,
                                          jit_compile)
    for _ in range(warmup_steps):
        float(train_step(next(iterator))[0]["loss"])
    started = time.perf_counter()
    for _ in range(steps):
        float(train_step(next(iterator))[0]["loss"])
    seconds = time.perf_counter() - started
    keras.mixed_precision.set_global_policy("float32")
    return {"precision": precision_name, "xla": bool(jit_compile), "batch_size": batch_size,
            "num_accumulation_steps": num_accumulation_steps, "replicas": strategy.num_replicas_in_sync,
            "global_batch_size": global_batch, "seq_length": seq_length,
            "step_ms": round(1000.0 * seconds / steps, 2),
            "sentences_per_second": round(global_batch * steps / seconds, 2)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bert_model", choices=sorted(GOOGLE_CONFIGS), default="base",
                        help="configs/bert_config_<model>.json, or Google's shape when absent (default: base)")
    parser.add_argument("--bert_config_file", help="BERT config JSON instead of --bert_model")
    parser.add_argument("--batch_sizes", type=positive_ints, default=[2, 4],
                        help="windows per replica per micro-batch, comma-separated (default: 2,4)")
    parser.add_argument("--precisions", type=precision_list, default=["fp32", "bf16"],
                        help="comma-separated fp32, fp16, bf16 (default: fp32,bf16)")
    parser.add_argument("--seq_length", type=int, default=384, help="tokens per window (default: 384)")
    parser.add_argument("--num_accumulation_steps", type=int, default=1, help="micro-batches per update (default: 1)")
    parser.add_argument("--use_xla", action=argparse.BooleanOptionalAction, default=True,
                        help="compile with XLA where bert/train/precision.py allows it (default: yes)")
    parser.add_argument("--steps", type=int, default=10, help="timed updates per point (default: 10)")
    parser.add_argument("--warmup_steps", type=int, default=2, help="untimed updates first (default: 2)")
    parser.add_argument("--output", help="also append the results as JSON lines to this file")
    args = parser.parse_args(argv)
    if min(args.seq_length, args.num_accumulation_steps, args.steps) < 1 or args.warmup_steps < 0:
        parser.error("--seq_length, --num_accumulation_steps and --steps must be >= 1, --warmup_steps >= 0")

    from bert.errors import InputError, run_main

    def run(_):
        config = load_config(args.bert_model, args.bert_config_file)
        if args.seq_length > config.max_position_embeddings:
            raise InputError(f"--seq_length: {args.seq_length} exceeds max_position_embeddings "
                             f"({config.max_position_embeddings})")
        print(f"BERT hidden {config.hidden_size}, {config.num_hidden_layers} layers, seq {args.seq_length}; "
              f"{args.steps} timed updates after {args.warmup_steps} warm-up updates per point", flush=True)
        print(f"{'prec':5s} {'xla':4s} {'batch':>6s} {'global':>7s} {'step ms':>10s} {'sent/s':>10s}", flush=True)
        for precision_name in args.precisions:
            for batch_size in args.batch_sizes:
                result = benchmark(config, precision_name, args.use_xla, batch_size, args.seq_length,
                                   args.num_accumulation_steps, args.steps, args.warmup_steps)
                print(f"{precision_name:5s} {'yes' if result['xla'] else 'no':4s} {batch_size:6d} "
                      f"{result['global_batch_size']:7d} {result['step_ms']:10.2f} "
                      f"{result['sentences_per_second']:10.2f}", flush=True)
                if args.output:
                    with open(args.output, "a", encoding="utf-8") as f:
                        f.write(json.dumps(result) + "\n")

    run_main(run)


if __name__ == "__main__":
    main()
