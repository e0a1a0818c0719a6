"""Creates masked-LM / next-sentence TFRecord shards for BERT pre-training.

Same flags, input format and output features as Google's create_pretraining_data.py.
Input: plain text, one sentence per line, a blank line between documents. Output:
`tf.train.Example`s with int64 input_ids, input_mask, segment_ids [max_seq_length],
masked_lm_positions, masked_lm_ids [max_predictions_per_seq], float masked_lm_weights
[max_predictions_per_seq] and int64 next_sentence_labels [1] (1 = B is random).

Unlike Google's script, every input file becomes its own output file (the files named
by --output_file, in order, or --output_dir/<base name>.tfrecord), and random next
sentences come from the same block of about 256 KB of the same input file. Files are cut
into such blocks at blank lines and the blocks are processed in parallel by
--num_workers processes (default: one per usable CPU), with identical output whatever
the number of workers (see bert/pretraining/shards.py).

Example:
    python create_pretraining_data.py --input_file=data/sample/sample_corpus.txt \\
        --output_file=/tmp/sample.tfrecord --vocab_file=vocab.txt --dupe_factor=5
    python create_pretraining_data.py --input_dir=data/formatted --output_dir=data/tfrecord \\
        --vocab_file=vocab.txt --num_workers=2 --no_masking
"""

import os
import signal
import sys
import time

from absl import app, flags

from bert.pretraining import shards as pretraining_shards
from bert import workers
from bert.errors import InputError, run_main

flags.DEFINE_string("input_file", None, "Input text file(s): comma-separated globs.")
flags.DEFINE_string("output_file", None, "Output TFRecord file(s), comma-separated, one per input file.")
flags.DEFINE_string("input_dir", None, "Directory of input text shards (instead of --input_file).")
flags.DEFINE_string("output_dir", None, "Directory for the output shards: <input base name>.tfrecord each.")
flags.DEFINE_string("vocab_file", None, "The vocabulary file that the BERT model was trained on.")
flags.DEFINE_bool("do_lower_case", True, "Lower-case the input text (True for uncased models).")
flags.DEFINE_bool("do_whole_word_mask", False, "Mask whole words rather than single WordPieces.")
flags.DEFINE_integer("max_seq_length", 128, "Maximum sequence length.")
flags.DEFINE_integer("max_predictions_per_seq", 20, "Maximum number of masked LM predictions per sequence.")
flags.DEFINE_integer("random_seed", 12345,
                     "Random seed; each input file's generators derive from it and the file's index.")
flags.DEFINE_integer("dupe_factor", 10, "Number of times to duplicate the input data (with different masks).")
flags.DEFINE_float("masked_lm_prob", 0.15, "Masked LM probability.")
flags.DEFINE_float("short_seq_prob", 0.1, "Probability of creating sequences shorter than the maximum length.")
flags.DEFINE_bool(
    "no_masking", False,
    "Write unmasked sequences for dynamic masking at training time; the masked_lm_* features are then all zeros.",
)
flags.DEFINE_integer(
    "num_workers", len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
    "Processes working on blocks of the input files in parallel (default: the usable CPUs); "
    "the output does not depend on it.",
)

FLAGS = flags.FLAGS


def main(argv):
    del argv
    start = time.perf_counter()
    # Unwind on SIGTERM as on Ctrl-C, so that temporary files are removed.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    workers.keep_freed_memory()
    if FLAGS.vocab_file is None:
        raise InputError("--vocab_file is required")
    if FLAGS.num_workers < 1:
        raise InputError(f"--num_workers={FLAGS.num_workers}: must be at least 1")
    options = pretraining_shards.PretrainingDataOptions(
        vocab_file=FLAGS.vocab_file,
        do_lower_case=FLAGS.do_lower_case,
        max_seq_length=FLAGS.max_seq_length,
        max_predictions_per_seq=FLAGS.max_predictions_per_seq,
        random_seed=FLAGS.random_seed,
        dupe_factor=FLAGS.dupe_factor,
        masked_lm_prob=FLAGS.masked_lm_prob,
        short_seq_prob=FLAGS.short_seq_prob,
        do_whole_word_mask=FLAGS.do_whole_word_mask,
        do_masking=not FLAGS.no_masking,
    )
    options.validate()
    jobs = pretraining_shards.plan_jobs(FLAGS.input_file, FLAGS.output_file, FLAGS.input_dir, FLAGS.output_dir)
    pretraining_shards.check_jobs(jobs)
    totals = pretraining_shards.write_shards(jobs, options, FLAGS.num_workers)
    seconds = time.perf_counter() - start
    print(
        f"Wrote {len(jobs)} shard(s): {totals.documents:,} documents, {totals.instances:,} instances, "
        f"{totals.tokens:,} tokens in {seconds:.1f} s ({totals.tokens / seconds:,.0f} tokens/s)",
        flush=True,
    )


if __name__ == "__main__":
    app.run(lambda argv: run_main(main, argv))
