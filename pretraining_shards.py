"""Text shards -> TFRecord shards of BERT pre-training examples, one output per input file.

Each input file is an independent job: it is read, tokenized, turned into instances
(`pretraining_instances`), shuffled and written (`tfrecord_writer`) by one process,
with random generators seeded from (random_seed, file index). Memory therefore holds
one input shard per worker, and the output does not depend on the number of workers.
Random "next sentences" are drawn from the same input file.

Each output is written as `<name>.tmp` and renamed when complete; on any error the
temporary file is removed.

Example:
    >>> jobs = plan_jobs(input_dir="data/formatted", output_dir="data/tfrecord")
    >>> check_jobs(jobs)
    >>> totals = write_shards(jobs, PretrainingDataOptions("vocab.txt"), num_workers=2)
"""

import concurrent.futures
import dataclasses
import functools
import glob
import multiprocessing
import os
import threading

import numpy as np
import tqdm

import pretraining_instances
import tokenization
from errors import InputError
from tfrecord_writer import AtomicShardWriter, remove_quietly, serialize_examples

WRITE_BATCH = 4096


@dataclasses.dataclass(frozen=True)
class PretrainingDataOptions:
    """The knobs of Google's create_pretraining_data.py, plus `do_masking`.

    `do_masking=False` writes unmasked sequences for dynamic masking at training time;
    their masked_lm_positions / masked_lm_ids / masked_lm_weights are all zeros (kept,
    so every reader with Google's feature spec still parses them).
    """

    vocab_file: str
    do_lower_case: bool = True
    max_seq_length: int = 128
    max_predictions_per_seq: int = 20
    random_seed: int = 12345
    dupe_factor: int = 10
    masked_lm_prob: float = 0.15
    short_seq_prob: float = 0.1
    do_whole_word_mask: bool = False
    do_masking: bool = True

    def validate(self):
        """Raises InputError for values the algorithm cannot use; loads the vocab."""
        if self.max_seq_length < 5:
            raise InputError(f"--max_seq_length={self.max_seq_length}: must be at least 5 ([CLS] A [SEP] B [SEP])")
        if not 1 <= self.max_predictions_per_seq <= self.max_seq_length:
            raise InputError(
                f"--max_predictions_per_seq={self.max_predictions_per_seq}: must be between 1 and "
                f"--max_seq_length={self.max_seq_length}"
            )
        if self.dupe_factor < 1:
            raise InputError(f"--dupe_factor={self.dupe_factor}: must be at least 1")
        if not 0.0 <= self.masked_lm_prob <= 1.0:
            raise InputError(f"--masked_lm_prob={self.masked_lm_prob}: must be between 0 and 1")
        if not 0.0 <= self.short_seq_prob <= 1.0:
            raise InputError(f"--short_seq_prob={self.short_seq_prob}: must be between 0 and 1")
        _tokenizer(self.vocab_file, self.do_lower_case)


@dataclasses.dataclass(frozen=True)
class ShardJob:
    """One input text file, its output TFRecord file, and its index (which seeds its RNGs)."""

    input_path: str
    output_path: str
    file_index: int


@dataclasses.dataclass
class ShardStats:
    """Counts for the summary line: documents read, instances written, tokens in them."""

    documents: int = 0
    instances: int = 0
    tokens: int = 0

    def __add__(self, other):
        return ShardStats(*(a + b for a, b in zip(dataclasses.astuple(self), dataclasses.astuple(other))))


def plan_jobs(input_file=None, output_file=None, input_dir=None, output_dir=None):
    """Pairs input and output files.

    Either `input_file` (comma-separated globs) with `output_file` (comma-separated,
    one per matched input file, in sorted match order), or `input_dir` with
    `output_dir` (every non-hidden file of input_dir, sorted; each writes
    output_dir/<base name>.tfrecord).

    Raises:
        InputError: mixed modes, a glob matching nothing, counts that differ, or two
            inputs that would write the same output.
    """
    if input_dir or output_dir:
        if input_file or output_file:
            raise InputError("give --input_file/--output_file or --input_dir/--output_dir, not both")
        if not (input_dir and output_dir):
            raise InputError("--input_dir and --output_dir go together")
        if not os.path.isdir(input_dir):
            raise InputError(f"--input_dir={input_dir}: not a directory")
        if os.path.abspath(input_dir) == os.path.abspath(output_dir):
            raise InputError("--output_dir must differ from --input_dir (outputs would be read as inputs next time)")
        inputs = sorted(
            entry.path for entry in os.scandir(input_dir) if entry.is_file() and not entry.name.startswith(".")
        )
        if not inputs:
            raise InputError(f"--input_dir={input_dir}: no input files in it")
        outputs = [
            os.path.join(output_dir, os.path.splitext(os.path.basename(path))[0] + ".tfrecord") for path in inputs
        ]
    else:
        if not input_file or not output_file:
            raise InputError("give --input_file and --output_file (or --input_dir and --output_dir)")
        inputs = []
        for pattern in filter(None, (part.strip() for part in input_file.split(","))):
            matched = sorted(glob.glob(pattern))
            if not matched:
                raise InputError(f"--input_file: pattern {pattern!r} matches no file")
            inputs.extend(matched)
        outputs = [part.strip() for part in output_file.split(",") if part.strip()]
        if len(outputs) != len(inputs):
            raise InputError(
                f"--input_file matches {len(inputs)} file(s) but --output_file names {len(outputs)}: "
                "give one output file per input file, or use --input_dir/--output_dir"
            )
    seen = {}
    for input_path, output_path in zip(inputs, outputs):
        key = os.path.abspath(output_path)
        if key in seen:
            raise InputError(f"{seen[key]} and {input_path} would both write {output_path}")
        if key == os.path.abspath(input_path):
            raise InputError(f"{input_path}: output file is the input file")
        seen[key] = input_path
    return [ShardJob(i, o, index) for index, (i, o) in enumerate(zip(inputs, outputs))]


def check_jobs(jobs):
    """Fails early, before any work: unreadable or empty inputs, unwritable outputs.

    Creates missing output directories.

    Raises:
        InputError: naming the file and the problem.
    """
    for job in jobs:
        try:
            with open(job.input_path, "rb") as reader:
                if not reader.read(1):
                    raise InputError(f"{job.input_path}: input file is empty")
        except OSError as error:
            raise InputError(f"{job.input_path}: cannot read input file ({error.strerror})") from None
    for job in jobs:
        directory = os.path.dirname(os.path.abspath(job.output_path))
        temp_path = job.output_path + ".tmp"
        if os.path.exists(directory) and not os.path.isdir(directory):
            raise InputError(f"{job.output_path}: cannot write output file ({directory} is not a directory)")
        try:
            os.makedirs(directory, exist_ok=True)
            with open(temp_path, "wb"):
                pass
        except OSError as error:
            raise InputError(f"{job.output_path}: cannot write output file ({error.strerror})") from None
        remove_quietly(temp_path)


@functools.lru_cache(maxsize=4)
def _tokenizer(vocab_file, do_lower_case):
    return tokenization.FullTokenizer(vocab_file, do_lower_case)


@functools.lru_cache(maxsize=4)
def _word_cache(vocab_file, do_lower_case):
    return pretraining_instances.WordCache(_tokenizer(vocab_file, do_lower_case))


@functools.lru_cache(maxsize=4)
def _masking_vocab(vocab_file, do_lower_case):
    return pretraining_instances.MaskingVocab.from_vocab(_tokenizer(vocab_file, do_lower_case).vocab)


def write_shard(job, options, progress=None):
    """Reads one text file and writes its shuffled, masked instances as one TFRecord file.

    Args:
        job: a `ShardJob`.
        options: `PretrainingDataOptions`.
        progress: optional callable receiving increments of input bytes done.

    Returns:
        `ShardStats` of the shard.
    """
    tokenizer = _tokenizer(options.vocab_file, options.do_lower_case)
    masking_vocab = _masking_vocab(options.vocab_file, options.do_lower_case)
    cls_id, sep_id = tokenizer.vocab["[CLS]"], tokenizer.vocab["[SEP]"]
    corpus = pretraining_instances.read_corpus(
        job.input_path, tokenizer, word_cache=_word_cache(options.vocab_file, options.do_lower_case)
    )
    python_rng, numpy_rng = pretraining_instances.shard_rngs(options.random_seed, job.file_index)
    spans = pretraining_instances.create_instance_spans(
        corpus, options.max_seq_length, options.short_seq_prob, options.dupe_factor, python_rng
    )
    order = numpy_rng.permutation(len(spans))  # Google shuffles all instances before writing
    file_bytes = os.path.getsize(job.input_path)
    reported = 0
    tokens = 0
    with AtomicShardWriter(job.output_path) as writer:
        for begin in range(0, len(order), WRITE_BATCH):
            batch = spans.take(order[begin:begin + WRITE_BATCH])
            features = _batch_features(corpus, batch, options, cls_id, sep_id, masking_vocab, numpy_rng)
            writer.write_records(*serialize_examples(features))
            tokens += int(features["input_mask"].sum())
            if progress is not None:
                done = file_bytes * min(len(order), begin + WRITE_BATCH) // max(len(order), 1)
                progress(done - reported)
                reported = done
    return ShardStats(documents=corpus.num_documents, instances=len(spans), tokens=tokens)


def _batch_features(corpus, batch, options, cls_id, sep_id, masking_vocab, rng):
    """Google's seven features, in Google's order, for a batch of `InstanceSpans`."""
    inputs = pretraining_instances.assemble_inputs(corpus.tokens, batch, options.max_seq_length, cls_id, sep_id)
    if options.do_masking:
        masked = pretraining_instances.mask_instances(
            inputs["input_ids"], inputs["input_mask"], inputs["is_content"], options.masked_lm_prob,
            options.max_predictions_per_seq, masking_vocab, rng, options.do_whole_word_mask,
        )
    else:
        unused = np.zeros((len(batch), options.max_predictions_per_seq), dtype=np.int32)
        masked = {"input_ids": inputs["input_ids"], "masked_lm_positions": unused, "masked_lm_ids": unused,
                  "masked_lm_weights": unused.astype(np.float32)}
    return {
        "input_ids": masked["input_ids"],
        "input_mask": inputs["input_mask"],
        "segment_ids": inputs["segment_ids"],
        "masked_lm_positions": masked["masked_lm_positions"],
        "masked_lm_ids": masked["masked_lm_ids"],
        "masked_lm_weights": masked["masked_lm_weights"],
        "next_sentence_labels": batch.is_random_next[:, None],
    }


def write_shards(jobs, options, num_workers=1, show_progress=True):
    """Runs `write_shard` for every job, in `num_workers` processes.

    Args:
        jobs: `ShardJob`s from `plan_jobs`.
        options: `PretrainingDataOptions`.
        num_workers: processes; 1 runs in this process.
        show_progress: draw a tqdm bar (only when stderr is a terminal).

    Returns:
        the summed `ShardStats`.

    Raises:
        InputError: from any shard; no temporary file is left behind.
    """
    total_bytes = sum(os.path.getsize(job.input_path) for job in jobs)
    bar = tqdm.tqdm(total=total_bytes, unit="B", unit_scale=True, disable=None if show_progress else True)
    totals = ShardStats()
    num_workers = max(1, min(num_workers, len(jobs)))
    try:
        if num_workers == 1:
            for job in jobs:
                totals += write_shard(job, options, bar.update)
        else:
            totals = _write_shards_in_pool(jobs, options, num_workers, bar)
    finally:
        bar.close()
    return totals


def _write_shards_in_pool(jobs, options, num_workers, bar):
    # "spawn": fresh workers, safe whatever threads (tokenizers, TensorFlow) this process runs.
    context = multiprocessing.get_context("spawn")
    progress_queue = context.Queue()
    drainer = threading.Thread(target=_drain_progress, args=(progress_queue, bar), daemon=True)
    drainer.start()
    executor = concurrent.futures.ProcessPoolExecutor(
        num_workers, mp_context=context, initializer=_init_worker, initargs=(progress_queue,)
    )
    totals = ShardStats()
    failed = True
    try:
        futures = [executor.submit(_write_shard_in_worker, job, options) for job in jobs]
        for future in concurrent.futures.as_completed(futures):
            totals += future.result()
        failed = False
    except concurrent.futures.process.BrokenProcessPool:
        raise RuntimeError("a worker process died (killed, or out of memory?)") from None
    finally:
        if failed:
            # Stop the shards still running; the executor has no public way to do so before Python 3.14.
            for process in list(executor._processes.values()):
                process.terminate()
        executor.shutdown(wait=True, cancel_futures=True)
        if failed:  # workers killed mid-shard cannot clean up after themselves
            for job in jobs:
                remove_quietly(job.output_path + ".tmp")
        progress_queue.put(None)
        drainer.join()
    return totals


_worker_progress_queue = None


def _init_worker(progress_queue):
    global _worker_progress_queue
    # The workers already fill the cores; the tokenizers' own thread pool would only contend.
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    _worker_progress_queue = progress_queue


def _write_shard_in_worker(job, options):
    return write_shard(job, options, _worker_progress_queue.put)


def _drain_progress(progress_queue, bar):
    while (increment := progress_queue.get()) is not None:
        bar.update(increment)
