"""SQuAD inference latency and throughput of the compiled `BertForQuestionAnswering` forward.

For every precision x sequence length x batch size ("point"), the forward pass that
`run_squad.py` predicts with (`tf.function`, XLA when `--use_xla` and precision.py allow
it) runs on random token ids, all tokens real: `--warmup` untimed calls (compilation),
then `--iterations` timed calls, each ending when the logits are on the host. Weights are
random: speed does not depend on them. Reports the average, p50, p90, p95 and p99 batch
latency, sentences/s (batch size / average latency), the average CPU time per call, and
TFLOP/s (the encoder's forward FLOPs, `flops.encoder_flops_per_sequence`, over the
average latency) as a share of the machine's measured matmul peak in that precision.

`--pytorch` adds `transformers`' `BertForQuestionAnswering`, same config and weights'
shapes, in fp32 and (for `bf16` in `--precisions`) under `torch.autocast("cpu",
torch.bfloat16)`, like with like. It runs in a child process of `--reference_python` (the
virtualenv with torch; TensorFlow's thread pools in the same process would slow PyTorch
down), which takes its turn in every round: with `--rounds`, the timed calls of all
points are split into rounds, so that a machine shared with other jobs slows every point
alike. Each round also measures a 2048^3 matmul in fp32 and bf16 with TensorFlow and with
PyTorch; a precision's peak is the best of both. The CPU is named first.

    python -m benchmarks.squad_inference_benchmark --bert_model=base --batch_sizes=8 \
        --seq_lengths=384 --precisions=fp32,bf16 --pytorch --rounds=5
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from benchmarks import side_by_side

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Google's released shapes, for when configs/bert_config_<model>.json is absent.
GOOGLE_CONFIGS = {
    "base": dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072, max_position_embeddings=512, type_vocab_size=2),
    "large": dict(vocab_size=30522, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                  intermediate_size=4096, max_position_embeddings=512, type_vocab_size=2),
}
PRECISIONS = {"fp32": (False, "float16"), "fp16": (True, "float16"), "bf16": (True, "bfloat16")}


def load_config(bert_model, bert_config_file):
    """A `modeling.BertConfig`: the file when given, else configs/bert_config_<model>.json, else Google's."""
    from bert import modeling

    repo_config = os.path.join(REPO_ROOT, "configs", f"bert_config_{bert_model}.json")
    path = bert_config_file or (repo_config if os.path.exists(repo_config) else None)
    if path:
        return modeling.BertConfig.from_json_file(path)
    return modeling.BertConfig(**GOOGLE_CONFIGS[bert_model])


def random_inputs(vocab_size, batch_size, seq_length, seed=0):
    """int32 `input_ids` (random), `input_mask` (all ones), `segment_ids` (question, then document)."""
    rng = np.random.default_rng(seed)
    shape = (batch_size, seq_length)
    segment_ids = np.zeros(shape, np.int32)
    segment_ids[:, seq_length // 4:] = 1
    return {"input_ids": rng.integers(1000, vocab_size, shape, dtype=np.int32),
            "input_mask": np.ones(shape, np.int32), "segment_ids": segment_ids}


def time_calls(call, iterations):
    """(wall seconds, CPU seconds of this process's threads) of each of `iterations` calls of `call`."""
    seconds = []
    for _ in range(iterations):
        started, cpu_started = time.perf_counter(), time.process_time()
        call()
        seconds.append((time.perf_counter() - started, time.process_time() - cpu_started))
    return seconds


def summarize(seconds, batch_size):
    """Average and percentile wall latencies in ms, sentences/s at the average, and average CPU ms.

    CPU time (all threads, spin-waiting included) depends less than wall time on other
    jobs sharing the machine.
    """
    ms = np.asarray(seconds) * 1000.0  # [calls, 2]: wall, CPU
    p50, p90, p95, p99 = np.percentile(ms[:, 0], [50, 90, 95, 99])
    average = float(ms[:, 0].mean())
    return {"latency_ms_avg": round(average, 2), "latency_ms_p50": round(p50, 2), "latency_ms_p90": round(p90, 2),
            "latency_ms_p95": round(p95, 2), "latency_ms_p99": round(p99, 2),
            "sentences_per_second": round(batch_size * 1000.0 / average, 2),
            "cpu_ms_avg": round(float(ms[:, 1].mean()), 2)}


def our_points(config, precision_name, use_xla, batch_sizes, seq_lengths, force_xla=False, onednn_inference=True,
               attention_chunk_kib=None):
    """Yields (description, call) per (seq_length, batch_size): our forward in one precision."""
    import keras
    import tensorflow as tf

    from bert import modeling
    from bert.train import precision

    amp, amp_dtype = PRECISIONS[precision_name]
    jit_compile = precision.configure(amp, amp_dtype, use_xla, force_xla, forward_only=True,
                                      onednn_inference=onednn_inference,
                                      attention_chunk_kib=attention_chunk_kib).inference
    keras.utils.set_random_seed(0)
    model = modeling.build_model(modeling.BertForQuestionAnswering(config))  # keeps this policy from here on
    keras.mixed_precision.set_global_policy("float32")

    @tf.function(jit_compile=jit_compile)
    def forward(batch):
        outputs = model(batch, training=False)
        return outputs["start_logits"], outputs["end_logits"]

    for seq_length in seq_lengths:
        for batch_size in batch_sizes:
            inputs = random_inputs(config.vocab_size, batch_size, seq_length)
            batch = {name: tf.constant(value) for name, value in inputs.items()}
            description = {"model": "ours", "precision": precision_name, "xla": bool(jit_compile),
                           "batch_size": batch_size, "seq_length": seq_length}
            yield description, lambda batch=batch: [logits.numpy() for logits in forward(batch)]


def pytorch_points(config_fields, precisions, batch_sizes, seq_lengths):
    """The same for `transformers.BertForQuestionAnswering`, eager, under `torch.inference_mode`.

    `fp32` runs as is, `bf16` under `torch.autocast("cpu", torch.bfloat16)`.
    """
    import contextlib

    import torch
    import transformers

    torch.manual_seed(0)
    model = transformers.BertForQuestionAnswering(transformers.BertConfig(**config_fields)).eval()
    for precision_name in precisions:
        autocast = ((lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if precision_name == "bf16"
                    else contextlib.nullcontext)
        for seq_length in seq_lengths:
            for batch_size in batch_sizes:
                inputs = {name: torch.tensor(value, dtype=torch.long)
                          for name, value in random_inputs(config_fields["vocab_size"], batch_size, seq_length).items()}

                def call(inputs=inputs, autocast=autocast):
                    with torch.inference_mode(), autocast():
                        outputs = model(input_ids=inputs["input_ids"], attention_mask=inputs["input_mask"],
                                        token_type_ids=inputs["segment_ids"])
                        return outputs.start_logits.float().numpy(), outputs.end_logits.float().numpy()

                description = {"model": "pytorch", "precision": precision_name, "xla": False,
                               "batch_size": batch_size, "seq_length": seq_length}
                yield description, call


def torch_matmul_peaks(size=2048, repeats=3):
    """{"fp32", "bf16"}: FLOP/s of PyTorch's best of `repeats` [size, size] matmuls."""
    import torch

    peaks = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a = torch.randn(size, size).to(dtype)
        torch.matmul(a, a)
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            torch.matmul(a, a)
            best = min(best, time.perf_counter() - started)
        peaks[name] = 2.0 * size ** 3 / best
    return peaks


def tensorflow_matmul_peaks():
    """{"fp32", "bf16"}: FLOP/s of TensorFlow's large matmul (`flops.measure_matmul_peak`)."""
    import tensorflow as tf

    from bert import flops

    return {"fp32": flops.measure_matmul_peak(tf.float32, repeats=3),
            "bf16": flops.measure_matmul_peak(tf.bfloat16, repeats=3)}


class LocalPoints:
    """Points timed in this process: a list of (description, call)."""

    def __init__(self, points, measure_peaks=None):
        self.points = list(points)
        self.descriptions = [description for description, _ in self.points]
        self.measure_peaks = measure_peaks

    def warm_up(self, calls):
        for _, call in self.points:
            for _ in range(calls):
                call()

    def time_round(self, calls):
        """Seconds of `calls` timed calls, per point."""
        return [time_calls(call, calls) for _, call in self.points]

    def peaks(self):
        """{"fp32", "bf16"}: matmul FLOP/s measured now by this group's framework, or None."""
        return self.measure_peaks() if self.measure_peaks else None

    def close(self):
        pass


PROTOCOL_PREFIX = "@@benchmark "


class PyTorchChild:
    """PyTorch points timed in a child process, which does each step when asked (JSON over pipes)."""

    def __init__(self, python, config, precisions, batch_sizes, seq_lengths):
        self.process = subprocess.Popen(
            [python, "-m", __spec__.name, "--pytorch_child", f"--config_json={json.dumps(config.to_dict())}",
             f"--precisions={','.join(precisions)}", f"--batch_sizes={','.join(map(str, batch_sizes))}",
             f"--seq_lengths={','.join(map(str, seq_lengths))}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT)
        self.descriptions = self._reply()

    def _reply(self):
        for line in self.process.stdout:
            if line.startswith(PROTOCOL_PREFIX):
                return json.loads(line[len(PROTOCOL_PREFIX):])
        raise RuntimeError(f"the PyTorch child process stopped (exit status {self.process.wait()})")

    def _ask(self, request):
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._reply()

    def warm_up(self, calls):
        self._ask({"warm_up": calls})

    def time_round(self, calls):
        return self._ask({"time_round": calls})

    def peaks(self):
        return self._ask({"peaks": True})

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def serve_pytorch_points(config_fields, precisions, batch_sizes, seq_lengths):
    """The child's side: announces its points, then answers warm_up / time_round / peaks requests from stdin."""
    points = LocalPoints(pytorch_points(config_fields, precisions, batch_sizes, seq_lengths),
                         measure_peaks=torch_matmul_peaks)

    def reply(value):
        print(PROTOCOL_PREFIX + json.dumps(value), flush=True)

    reply(points.descriptions)
    for line in sys.stdin:
        request = json.loads(line)
        if "warm_up" in request:
            points.warm_up(request["warm_up"])
            reply("ok")
        elif "peaks" in request:
            reply(points.peaks())
        else:
            reply(points.time_round(request["time_round"]))


def measure(groups, iterations, warmup, rounds, flops_per_sequence):
    """Result dicts for every point of every group: warm-up calls, then `rounds` rounds of timed calls.

    Each round times about `iterations / rounds` calls of every point in turn, so that a
    load changing during the run (a shared machine) weighs on all points alike, and asks
    every group for its framework's matmul peaks. A precision's peak is the median over
    rounds of the best framework's measurement; `flops_per_sequence(seq_length)` gives
    each point's TFLOP/s and its share of that peak.
    """
    for group in groups:
        group.warm_up(warmup)
    seconds = [[[] for _ in group.descriptions] for group in groups]
    peaks = {"fp32": [], "bf16": []}
    for round_number in range(rounds):
        calls = iterations // rounds + (round_number < iterations % rounds)
        round_peaks = [group_peaks for group in groups if (group_peaks := group.peaks())]
        for name in peaks:
            peaks[name].append(max(group_peaks[name] for group_peaks in round_peaks))
        for group, group_seconds in zip(groups, seconds):
            for timings, new in zip(group_seconds, group.time_round(calls)):
                timings.extend(new)
    peak = {name: float(np.median(values)) for name, values in peaks.items()}
    results = []
    for group, group_seconds in zip(groups, seconds):
        for description, timings in zip(group.descriptions, group_seconds):
            result = {**description, **summarize(timings, description["batch_size"])}
            flop_per_second = (flops_per_sequence(description["seq_length"]) * result["sentences_per_second"])
            precision_peak = peak.get(description["precision"], peak["fp32"])  # fp16: no peak of its own here
            results.append({**result, "tflops": round(flop_per_second / 1e12, 4),
                            "peak_tflops": round(precision_peak / 1e12, 4),
                            "percent_of_peak": round(100.0 * flop_per_second / precision_peak, 1)})
    return results


def speedups(results):
    """Lines comparing like with like at each (seq, batch): ours against PyTorch per precision, bf16 against fp32."""
    by_key = {(r["model"], r["precision"], r["seq_length"], r["batch_size"]): r["latency_ms_avg"] for r in results}
    lines = []
    for (model, precision_name, seq_length, batch_size), latency in by_key.items():
        where = f"seq {seq_length}, batch {batch_size}"
        if model == "ours" and ("pytorch", precision_name, seq_length, batch_size) in by_key:
            ratio = by_key[("pytorch", precision_name, seq_length, batch_size)] / latency
            lines.append(f"{where}: ours {precision_name} is {ratio:.2f}x PyTorch {precision_name}")
        if precision_name == "bf16" and (model, "fp32", seq_length, batch_size) in by_key:
            ratio = by_key[(model, "fp32", seq_length, batch_size)] / latency
            lines.append(f"{where}: {model} bf16 is {ratio:.2f}x {model} fp32")
    return lines


def positive_ints(text):
    try:
        values = [int(item) for item in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected numbers >= 1, got {text!r}")
    return values


def precision_list(text):
    values = text.split(",")
    unknown = [value for value in values if value not in PRECISIONS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown precision {unknown[0]!r}; expected {', '.join(PRECISIONS)}")
    return values


def format_row(result):
    return (f"{result['model']:8s} {result['precision']:5s} {'yes' if result['xla'] else 'no':4s} "
            f"{result['seq_length']:6d} {result['batch_size']:6d} {result['latency_ms_avg']:10.2f} "
            f"{result['latency_ms_p50']:9.2f} {result['latency_ms_p90']:9.2f} {result['latency_ms_p95']:9.2f} "
            f"{result['latency_ms_p99']:9.2f} {result['sentences_per_second']:10.2f} {result['cpu_ms_avg']:10.2f} "
            f"{result['tflops']:7.3f} {result['percent_of_peak']:6.1f}%")


HEADER = (f"{'model':8s} {'prec':5s} {'xla':4s} {'seq':>6s} {'batch':>6s} {'avg ms':>10s} {'p50 ms':>9s} "
          f"{'p90 ms':>9s} {'p95 ms':>9s} {'p99 ms':>9s} {'sent/s':>10s} {'CPU ms':>10s} {'TFLOP/s':>7s} "
          f"{'peak':>7s}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bert_model", choices=sorted(GOOGLE_CONFIGS), default="base",
                        help="configs/bert_config_<model>.json, or Google's shape when absent (default: base)")
    parser.add_argument("--bert_config_file", help="BERT config JSON instead of --bert_model")
    parser.add_argument("--batch_sizes", type=positive_ints, default=[1, 8], help="comma-separated (default: 1,8)")
    parser.add_argument("--seq_lengths", type=positive_ints, default=[128, 384],
                        help="comma-separated (default: 128,384)")
    parser.add_argument("--precisions", type=precision_list, default=["fp32", "bf16"],
                        help="comma-separated fp32, fp16, bf16 (default: fp32,bf16)")
    parser.add_argument("--use_xla", action=argparse.BooleanOptionalAction, default=True,
                        help="compile with XLA where bert/train/precision.py allows it (default: yes)")
    parser.add_argument("--force_xla", action="store_true",
                        help="compile with XLA even where precision.py declines it (on a CPU: every forward)")
    side_by_side.add_forward_only_flags(parser)
    parser.add_argument("--iterations", type=int, default=20, help="timed calls per point (default: 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls first (default: 3)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="split the timed calls into this many rounds over all points (default: 1)")
    parser.add_argument("--pytorch", action="store_true",
                        help="also time transformers' PyTorch model, in fp32 and (if asked for) bf16 autocast")
    side_by_side.add_reference_python_flag(parser)
    parser.add_argument("--output", help="also append the results as JSON lines to this file")
    parser.add_argument("--pytorch_child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--config_json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.warmup < 0 or not 1 <= args.rounds <= args.iterations:
        parser.error("--warmup must be >= 0 and --rounds between 1 and --iterations")
    if args.pytorch:
        side_by_side.check_reference_python(parser, args.reference_python)

    if args.pytorch_child:  # no TensorFlow in this process
        serve_pytorch_points(json.loads(args.config_json), args.precisions, args.batch_sizes, args.seq_lengths)
        return

    from bert import flops
    from bert.errors import InputError, run_main
    from bert.train import hardware

    def run(_):
        config = load_config(args.bert_model, args.bert_config_file)
        if max(args.seq_lengths) > config.max_position_embeddings:
            raise InputError(f"--seq_lengths: {max(args.seq_lengths)} exceeds max_position_embeddings "
                             f"({config.max_position_embeddings})")
        cpu = hardware.cpu_info().describe()
        print(f"CPU: {cpu}\nBERT hidden {config.hidden_size}, {config.num_hidden_layers} layers; {args.iterations} "
              f"timed calls after {args.warmup} warm-up calls per point, in {args.rounds} rounds", flush=True)
        groups = [LocalPoints(our_points(config, name, args.use_xla, args.batch_sizes, args.seq_lengths,
                                         args.force_xla, args.onednn_inference, args.attention_chunk_kib),
                              measure_peaks=tensorflow_matmul_peaks if index == 0 else None)
                  for index, name in enumerate(args.precisions)]
        if args.pytorch:
            torch_precisions = [name for name in args.precisions if name in ("fp32", "bf16")]
            groups.append(PyTorchChild(args.reference_python, config, torch_precisions, args.batch_sizes,
                                       args.seq_lengths))
        try:
            results = measure(groups, args.iterations, args.warmup, args.rounds,
                              lambda seq_length: flops.encoder_flops_per_sequence(config, seq_length))
        finally:
            for group in groups:
                group.close()
        print(HEADER, flush=True)
        for result in results:
            print(format_row(result), flush=True)
            if args.output:
                os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
                with open(args.output, "a", encoding="utf-8") as f:
                    f.write(json.dumps({**result, "cpu": cpu}) + "\n")
        for line in speedups(results):
            print(line, flush=True)

    run_main(run)


if __name__ == "__main__":
    main()
