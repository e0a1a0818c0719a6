"""Where a forward pass or a training step spends its time, by kind of TensorFlow op.

Traces a few calls with the TensorFlow profiler and adds up the time of every op the
graph executor ran, from the trace's `.xplane.pb`: per op type, and per kind of work
(matmuls, attention matmuls, softmax, LayerNorm, GELU, dtype casts, layout copies,
dropout, other element-wise). Op times are summed over the executor's threads, so they
can exceed the wall time when independent ops overlap. Under XLA the whole step is one
compiled op, so profile without XLA (`--no-use_xla`) to see the parts.

    python -m benchmarks.op_profile --config=minilm --precision=bf16 --seq_length=384
    python -m benchmarks.op_profile --config=minilm --precision=fp32 --train --batch_size=32

`--train` profiles `run_pretraining.py`'s training step (LAMB, 20 masked positions per
sequence) instead of the encoder forward.
"""

import argparse
import collections
import glob
import os
import tempfile
import time

from benchmarks import side_by_side

KINDS = (  # (kind, test on (op type, op name)), first match wins
    ("attention matmuls", lambda kind, name: "BatchMatMul" in kind),
    ("matmuls (projections fused with bias, GELU, residual; heads; gradients)",
     lambda kind, name: "MatMul" in kind or "Einsum" in kind),
    ("softmax", lambda kind, name: "Softmax" in kind and "CrossEntropy" not in kind),
    ("dropout", lambda kind, name: "dropout" in name.lower() or "Random" in kind),
    ("LayerNorm", lambda kind, name: "LayerNorm" in name),
    ("GELU", lambda kind, name: kind == "Erf" or "gelu" in name.lower()),
    ("dtype casts", lambda kind, name: kind == "Cast"),
    ("layout copies", lambda kind, name: "Transpose" in kind or kind in ("Unpack", "ConcatV2", "Pack", "StridedSlice")),
    ("embedding gathers", lambda kind, name: "Gather" in kind),
    ("optimizer (LAMB)", lambda kind, name: "/lamb/" in name or "/adam" in name),
)
IGNORED_PREFIXES = ("ExecutorState", "ExecutorDoneCallback", "ThreadpoolListener", "MemoryAllocation",
                    "MemoryDeallocation", "ReadVariableOp", "StartRegion", "StopRegion")


def op_times(run, logdir, calls=3):
    """{(op type, op name): milliseconds per call} of `calls` calls of `run`, traced into `logdir`."""
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    tf.profiler.experimental.start(logdir)
    try:
        for _ in range(calls):
            run()
    finally:
        tf.profiler.experimental.stop()
    space = xplane_pb2.XSpace()
    with open(max(glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb")), key=os.path.getmtime),
              "rb") as f:
        space.ParseFromString(f.read())
    return summed_op_times(space, calls)


def summed_op_times(space, calls):
    """{(op type, op name): milliseconds per call} from an XSpace trace of `calls` calls.

    Counts the executor threads' top-level op events only: an event inside another op's
    event on the same thread (the shards an op runs with ParallelFor) is part of that op.
    """
    times = collections.Counter()
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            covered_until = -1
            for event in sorted(line.events, key=lambda event: event.offset_ps):
                if event.offset_ps + event.duration_ps <= covered_until:
                    continue  # runs inside an op counted already (an op's own ParallelFor shards)
                metadata = plane.event_metadata[event.metadata_id]
                kind = metadata.display_name or metadata.name
                if not kind.startswith(IGNORED_PREFIXES):
                    times[(kind, metadata.name)] += event.duration_ps / 1e9 / calls
                    covered_until = max(covered_until, event.offset_ps + event.duration_ps)
    return times


def op_type_counts(run, logdir):
    """{op type: how many ran} in one call of `run`."""
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    run()  # compile outside the trace
    tf.profiler.experimental.start(logdir)
    try:
        run()
    finally:
        tf.profiler.experimental.stop()
    space = xplane_pb2.XSpace()
    with open(glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb"))[0], "rb") as f:
        space.ParseFromString(f.read())
    counts = collections.Counter()
    for plane in space.planes:
        for line in plane.lines if plane.name == "/host:CPU" else ():
            if line.name.startswith("tf_Compute"):
                for event in line.events:
                    metadata = plane.event_metadata[event.metadata_id]
                    counts[metadata.display_name or metadata.name] += 1
    return dict(counts)


def by_kind(times):
    """{kind of work: milliseconds}, every op placed in the first matching KINDS entry (else 'other')."""
    totals = collections.Counter()
    for (kind, name), milliseconds in times.items():
        label = next((label for label, matches in KINDS if matches(kind, name)), "other element-wise")
        totals[label] += milliseconds
    return totals


def print_breakdown(title, totals, wall_ms):
    total = sum(totals.values())
    print(f"\n{title}: wall {wall_ms:.1f} ms per call, op time {total:.1f} ms (summed over threads)\n")
    print("| part | ms per call | share of op time |\n| --- | ---: | ---: |")
    for label, milliseconds in totals.most_common():
        print(f"| {label} | {milliseconds:.1f} | {100 * milliseconds / total:.1f}% |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="minilm", help="small, minilm or a config JSON path (default: minilm)")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--seq_length", type=int, default=384)
    parser.add_argument("--train", action="store_true", help="profile the pretraining step instead of a forward")
    parser.add_argument("--use_xla", action=argparse.BooleanOptionalAction, default=False,
                        help="compile with XLA (the breakdown then shows one op; default: no)")
    side_by_side.add_forward_only_flags(parser)
    parser.add_argument("--calls", type=int, default=3, help="traced calls, after 3 untimed and 5 timed ones")
    args = parser.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    from benchmarks import pretraining_benchmark
    from bert import modeling
    from bert.train import hardware, precision

    config = pretraining_benchmark.load_config(args.config)
    bf16 = args.precision == "bf16"
    if args.train:
        batch = pretraining_benchmark.synthetic_batch(config.vocab_size, args.batch_size, args.seq_length, 20)
        step, _ = pretraining_benchmark.ours_step(config, batch, bf16=bf16, use_xla=args.use_xla,
                                                  force_xla=args.use_xla)
    else:
        precision.configure(bf16, "bfloat16", args.use_xla, force_xla=args.use_xla, forward_only=True,
                            onednn_inference=args.onednn_inference, attention_chunk_kib=args.attention_chunk_kib)
        model = modeling.build_model(modeling.BertModel(config))
        forward = tf.function(lambda batch: model(batch)["sequence_output"], jit_compile=args.use_xla)
        rng = np.random.default_rng(0)
        shape = (args.batch_size, args.seq_length)
        batch = {"input_ids": tf.constant(rng.integers(1000, config.vocab_size, shape, dtype=np.int32)),
                 "input_mask": tf.ones(shape, tf.int32), "segment_ids": tf.zeros(shape, tf.int32)}

        def step():
            return forward(batch).numpy()
    for _ in range(3):
        step()
    started = time.perf_counter()
    for _ in range(5):
        step()
    wall_ms = (time.perf_counter() - started) / 5 * 1000
    with tempfile.TemporaryDirectory() as logdir:
        times = op_times(step, logdir, args.calls)
    what = "training step" if args.train else "forward"
    print(f"CPU: {hardware.cpu_info().describe()}")
    print_breakdown(f"{args.config} {what}, {args.precision}, batch {args.batch_size} x seq {args.seq_length}, "
                    f"XLA {'on' if args.use_xla else 'off'}", by_kind(times), wall_ms)
    types = collections.Counter()
    for (kind, _), milliseconds in times.items():
        types[kind] += milliseconds
    print("\n| op type | ms per call |\n| --- | ---: |")
    for kind, milliseconds in types.most_common(12):
        print(f"| {kind} | {milliseconds:.1f} |")


if __name__ == "__main__":
    main()
