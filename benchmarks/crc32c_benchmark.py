"""TFRecord CRC32C and framing: the `google-crc32c` C library against the numpy CRC32C it replaced.

The records are create_pretraining_data's own: one chunk of 4,096 instances
(`bert/pretraining/shards.py`, the size it frames at once) drawn from real English (the
Python language reference, `pydoc_data.topics`), at BERT's two pretraining shapes: seq 128
with 20 predictions (about 740 bytes a record) and seq 512 with 80 (about 2.3 KB).
For each shape:

* masked CRC32C of every record: numpy (`masked_crc32c(buffer, offsets)` of the old
  module), `google_crc32c.value` and, when installed, the `crc32c` package, one call per
  record (plus the mask, vectorized);
* `frame_records(buffer, offsets)`, old and new: serialized records to TFRecord bytes
  (what the SQuAD writer calls);
* `frame_examples(features)`, old and new: features to TFRecord bytes (what
  create_pretraining_data calls), and `frame_records(*serialize_examples(features))`,
  the plain composition that `frame_examples` is a faster form of.

The numpy CRC32C comes from `bert/pretraining/tfrecord_writer.py` at git revision
`--numpy_revision` (the last with it). Every contender of a row must give the same
output. Each is timed `--repeats` times, the contenders taking turns; the fastest wall
and CPU times count.

    python -m benchmarks.crc32c_benchmark --vocab_file VOCAB --repeats 20
"""

import argparse
import os
import sys
import tempfile
import time

import google_crc32c
import numpy as np

from benchmarks.tokenizer_benchmark import corpus_text, module_at_revision
from bert.pretraining import shards, tfrecord_writer

NUMPY_REVISION = "abfc8fde649d40fefcd24a544d9f8f8e9c7a78a2"
SHAPES = ((128, 20), (512, 80))


def chunk_features(vocab_file, corpus_path, max_seq_length, max_predictions_per_seq):
    """The features of create_pretraining_data's first chunk of a one-block file."""
    options = shards.PretrainingDataOptions(vocab_file, max_seq_length=max_seq_length,
                                            max_predictions_per_seq=max_predictions_per_seq, dupe_factor=5)
    job = shards.ShardJob(corpus_path, os.devnull, 0)
    (block,) = shards.split_blocks(job, block_bytes=os.path.getsize(corpus_path))
    _, spans, tokens = shards.block_spans(block, options)
    chunk = spans.take(np.arange(min(len(spans), shards.WRITE_BATCH)))
    return shards.chunk_examples(tokens, chunk, options, 0, 0)


def masked(crcs):
    """TFRecord's mask of CRC32C values, as the writer applies it."""
    crcs = np.asarray(crcs, dtype=np.uint32)
    return ((crcs >> 15) | (crcs << 17)) + np.uint32(0xA282EAD8)


def rows(features, old):
    """{row name: {contender: function of nothing}} for one shape."""
    buffer, offsets = tfrecord_writer.serialize_examples(features)
    data = buffer.tobytes()
    records = [data[start:end] for start, end in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
    crc_row = {
        "numpy": lambda: old.masked_crc32c(buffer, offsets),
        "google-crc32c": lambda: masked(list(map(google_crc32c.value, records))),
    }
    try:
        import crc32c

        crc_row["crc32c"] = lambda: masked(list(map(crc32c.crc32c, records)))
    except ImportError:
        pass
    return {
        "masked CRC32C of every record": crc_row,
        "frame_records(buffer, offsets)": {
            "numpy": lambda: old.frame_records(buffer, offsets),
            "google-crc32c": lambda: tfrecord_writer.frame_records(buffer, offsets),
        },
        "frame_examples(features)": {
            "numpy": lambda: old.frame_examples(features),
            "google-crc32c": lambda: tfrecord_writer.frame_examples(features),
            "google-crc32c, frame_records(*serialize_examples)": lambda: tfrecord_writer.frame_records(
                *tfrecord_writer.serialize_examples(features)),
        },
    }


def time_row(contenders, repeats):
    """{contender: (fastest wall s, fastest CPU s)}; exits if two contenders' outputs differ."""
    best = {name: (float("inf"), float("inf")) for name in contenders}
    outputs = {}
    for _ in range(repeats):
        for name, run in contenders.items():
            wall, cpu = time.perf_counter(), time.process_time()
            outputs[name] = run()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    first = as_array(next(iter(outputs.values())))
    for name, output in outputs.items():
        if not np.array_equal(as_array(output), first):
            sys.exit(f"{name}: output differs")
    return best


def as_array(output):
    """A contender's output (framed `bytes` or an array of CRCs) as a numpy array."""
    return np.frombuffer(output, np.uint8) if isinstance(output, bytes) else np.asarray(output)


def report(shape, features, old, repeats):
    """Prints one shape's table."""
    buffer, offsets = tfrecord_writer.serialize_examples(features)
    num_records = len(offsets) - 1
    print(f"\nseq {shape[0]}, {shape[1]} predictions: {num_records:,} records, {len(buffer) / num_records:,.0f} "
          f"bytes a record on average ({int(np.diff(offsets).min())} to {int(np.diff(offsets).max())}), "
          f"{len(buffer) / 1e6:.2f} MB; fastest of {repeats}")
    print("| work | contender | wall ms | CPU ms | MB/s (wall) | numpy's / this (wall) |\n|---|---|---|---|---|---|")
    for row, contenders in rows(features, old).items():
        best = time_row(contenders, repeats)
        numpy_wall = best["numpy"][0]
        for name, (wall, cpu) in best.items():
            print(f"| {row} | {name} | {wall * 1e3:.2f} | {cpu * 1e3:.2f} | {len(buffer) / wall / 1e6:,.0f} "
                  f"| {numpy_wall / wall:.1f}x |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vocab_file", required=True)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--numpy_revision", default=NUMPY_REVISION,
                        help="git revision whose tfrecord_writer.py has the numpy CRC32C")
    args = parser.parse_args()
    old = module_at_revision("bert/pretraining/tfrecord_writer.py", args.numpy_revision)
    print(f"google_crc32c {google_crc32c.implementation} implementation; numpy CRC32C from "
          f"{args.numpy_revision[:10]}; load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as directory:
        corpus_path = os.path.join(directory, "pydoc.txt")
        with open(corpus_path, "w", encoding="utf-8") as writer:
            writer.write(corpus_text("pydoc"))
        for shape in SHAPES:
            report(shape, chunk_features(args.vocab_file, corpus_path, *shape), old, args.repeats)
    print(f"\nload average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
