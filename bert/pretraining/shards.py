"""Text shards -> TFRecord shards of BERT pre-training examples, one output per input file.

Every input file is processed in two steps, so that one file keeps all cores busy:

1. Blocks. The file is cut at blank lines into blocks of about 256 KB (`split_blocks`;
   the cuts depend on the file alone). Each block is read, tokenized and turned into
   instance spans on its own (`block_spans`): its random "next sentences" come from its
   own documents, and its generator is seeded from (random_seed, file index, block
   index). The token ids go to a token file, the spans back to this process.
2. Chunks. All the file's instances are put in one uniformly random order (seeded from
   (random_seed, file index), as Google shuffles all instances before writing) and cut
   into chunks of WRITE_BATCH. Each chunk is assembled, masked (seeded from
   (random_seed, file index, chunk index)), serialized and framed on its own
   (`write_chunk`), and the chunks are appended to the output in order.

Blocks and chunks run as tasks in `num_workers` processes; the output does not depend
on their number. A file of one block does both steps in one task, in memory
(`write_small_file`). Memory holds a file's spans and their order (48 bytes per
instance) in this process and one block or one chunk per worker, whatever the size of
the file.

Each output is written as `<name>.tmp` and renamed when complete. The token file and
the chunks written ahead of their turn live in a temporary directory next to the
output. On any error (or KeyboardInterrupt, or SystemExit) the temporary files are
removed, so a half-written shard never looks complete.

Example:
    >>> jobs = plan_jobs(input_dir="data/formatted", output_dir="data/tfrecord")
    >>> check_jobs(jobs)
    >>> totals = write_shards(jobs, PretrainingDataOptions("vocab.txt"), num_workers=2)
"""

import collections
import dataclasses
import functools
import os
import re
import shutil
import tempfile

import numpy as np
import tqdm

from bert.pretraining import instances as pretraining_instances
from bert.text import tokenization
from bert.errors import InputError
from bert import workers
from bert.files import expand_patterns, remove_quietly
from bert.pretraining.tfrecord_writer import AtomicShardWriter, frame_examples

WRITE_BATCH = 4096
BLOCK_BYTES = 1 << 18
_BLANK_LINE = re.compile(rb"\n[ \t\r\f\v]*\n")  # ASCII whitespace only: other blank lines are just not cut at
_SCAN_BYTES = 1 << 16


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


@dataclasses.dataclass(frozen=True)
class Block:
    """Bytes [start, end) of an input file, starting and ending at document boundaries.

    Attributes:
        job: the file's `ShardJob`.
        index: the block's position in the file (seeds its RNGs).
        start, end: byte offsets.
        num_blocks: blocks in the file.
    """

    job: ShardJob
    index: int
    start: int
    end: int
    num_blocks: int


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
        inputs = expand_patterns(input_file, "input_file")
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


def split_blocks(job, block_bytes=BLOCK_BYTES):
    """Cuts an input file into `Block`s at blank lines.

    A block ends just after the first blank line (of ASCII whitespace) whose "\\n" is
    at least `block_bytes` after the block's start, or at the end of the file. The cuts
    depend on the file alone; finding them reads a little text after each.

    Returns:
        the file's `Block`s, in order.
    """
    size = os.path.getsize(job.input_path)
    cuts = [0]
    with open(job.input_path, "rb") as reader:
        while cuts[-1] + block_bytes < size:
            cut = _end_of_next_blank_line(reader, cuts[-1] + block_bytes - 1)
            if cut is None or cut >= size:
                break
            cuts.append(cut)
    cuts.append(size)
    return [Block(job, index, start, end, len(cuts) - 1) for index, (start, end) in enumerate(zip(cuts, cuts[1:]))]


def _end_of_next_blank_line(reader, offset):
    """Offset just after the first blank line whose leading "\\n" is at or after `offset`; None if none."""
    reader.seek(offset)
    carry = b""  # the end of the text read so far, when it could begin a blank line
    carry_offset = offset
    while data := reader.read(_SCAN_BYTES):
        text = carry + data
        if match := _BLANK_LINE.search(text):
            return carry_offset + match.end()
        last_newline = text.rfind(b"\n")
        could_begin = last_newline >= 0 and not text[last_newline + 1:].strip(b" \t\r\f\v")
        carry = text[last_newline:] if could_begin else b""
        carry_offset += len(text) - len(carry)
    return None


@functools.lru_cache(maxsize=4)
def _tokenizer(vocab_file, do_lower_case):
    return tokenization.FullTokenizer(vocab_file, do_lower_case)


@functools.lru_cache(maxsize=4)
def _word_cache(vocab_file, do_lower_case):
    return pretraining_instances.WordCache(_tokenizer(vocab_file, do_lower_case))


@functools.lru_cache(maxsize=4)
def _masking_vocab(vocab_file, do_lower_case):
    return pretraining_instances.MaskingVocab.from_vocab(_tokenizer(vocab_file, do_lower_case).vocab)


def block_spans(block, options, token_path=None):
    """Reads one block and draws its instances (the first of a file's two steps).

    Args:
        block: a `Block`.
        options: `PretrainingDataOptions`.
        token_path: the file's token file: this block's int32 token ids are written
            there from token offset `block.start` (a line of n bytes never has more
            than n tokens, so blocks do not overlap; the gaps stay sparse). None: keep
            them in memory.

    Returns:
        (number of documents, `InstanceSpans` indexing the file's token array, the
        block's tokens or None).

    Raises:
        InputError: bad input, or no text at all in a file of one block.
    """
    tokenizer = _tokenizer(options.vocab_file, options.do_lower_case)
    corpus = pretraining_instances.read_corpus(
        block.job.input_path, tokenizer, block.start, block.end,
        word_cache=_word_cache(options.vocab_file, options.do_lower_case),
    )
    if block.num_blocks == 1:
        _require_text(block.job, corpus.num_documents)
    rng = pretraining_instances.instance_rng(options.random_seed, block.job.file_index, block.index)
    spans = pretraining_instances.create_instance_spans(
        corpus, options.max_seq_length, options.short_seq_prob, options.dupe_factor, rng
    ).shifted(block.start)
    if token_path is None:
        return corpus.num_documents, spans, corpus.tokens
    if len(corpus.tokens) > block.end - block.start:
        raise RuntimeError(f"{block.job.input_path}: more tokens than bytes in bytes [{block.start}, {block.end})")
    with open(token_path, "r+b") as writer:
        writer.seek(4 * block.start)
        writer.write(corpus.tokens.astype("<i4").tobytes())
    return corpus.num_documents, spans, None


def chunk_examples(tokens, spans, options, file_index, chunk_index):
    """Masks a chunk of a file's shuffled instances (the second step) into Google's features.

    Args:
        tokens: int32 [num_tokens], the file's tokens (an array or a memmap).
        spans: `InstanceSpans` of the chunk, in output order.
        options: `PretrainingDataOptions`.
        file_index, chunk_index: seed the masking.

    Returns:
        {feature name: array [len(spans), width]}, in Google's order.
    """
    tokenizer = _tokenizer(options.vocab_file, options.do_lower_case)
    inputs = pretraining_instances.assemble_inputs(
        tokens, spans, options.max_seq_length, tokenizer.vocab["[CLS]"], tokenizer.vocab["[SEP]"]
    )
    if options.do_masking:
        rng = pretraining_instances.masking_rng(options.random_seed, file_index, chunk_index)
        masked = pretraining_instances.mask_instances(
            inputs["input_ids"], inputs["input_mask"], inputs["is_content"], options.masked_lm_prob,
            options.max_predictions_per_seq, _masking_vocab(options.vocab_file, options.do_lower_case), rng,
            options.do_whole_word_mask,
        )
    else:
        unused = np.zeros((len(spans), options.max_predictions_per_seq), dtype=np.int32)
        masked = {"input_ids": inputs["input_ids"], "masked_lm_positions": unused, "masked_lm_ids": unused,
                  "masked_lm_weights": unused.astype(np.float32)}
    return {
        "input_ids": masked["input_ids"],
        "input_mask": inputs["input_mask"],
        "segment_ids": inputs["segment_ids"],
        "masked_lm_positions": masked["masked_lm_positions"],
        "masked_lm_ids": masked["masked_lm_ids"],
        "masked_lm_weights": masked["masked_lm_weights"],
        "next_sentence_labels": spans.is_random_next[:, None],
    }


def write_chunk(token_path, spans, options, file_index, chunk_index, slot_path):
    """`chunk_examples` on a token file, serialized, framed and written from the start of `slot_path`.

    The slot file is overwritten in place, not truncated: its pages are reused, and the
    bytes after this chunk's are stale.

    Returns:
        (the chunk's bytes in the slot file, its number of tokens).
    """
    # Unmapped on return: memory holds the pages of one chunk's tokens.
    tokens = np.memmap(token_path, dtype="<i4", mode="r").view(np.ndarray)
    features = chunk_examples(tokens, spans, options, file_index, chunk_index)
    records = frame_examples(features)
    descriptor = os.open(slot_path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        written = 0
        while written < len(records):
            written += os.pwrite(descriptor, memoryview(records)[written:], written)
    finally:
        os.close(descriptor)
    return len(records), int(features["input_mask"].sum())


def write_small_file(block, options):
    """Both steps for a file of one block, in memory; writes its output and returns its `ShardStats`."""
    num_documents, spans, tokens = block_spans(block, options)
    order = _shuffled(len(spans), options.random_seed, block.job.file_index)
    num_tokens = 0
    with AtomicShardWriter(block.job.output_path) as writer:
        for chunk_index, begin in enumerate(range(0, len(spans), WRITE_BATCH)):
            chunk = spans.take(order[begin:begin + WRITE_BATCH])
            features = chunk_examples(tokens, chunk, options, block.job.file_index, chunk_index)
            writer.write_examples(features)
            num_tokens += int(features["input_mask"].sum())
    return ShardStats(documents=num_documents, instances=len(spans), tokens=num_tokens)


def _shuffled(num_instances, random_seed, file_index):
    """The order of a file's instances in its output: uniformly random, as Google shuffles all instances."""
    return pretraining_instances.shuffle_rng(random_seed, file_index).permutation(num_instances)


def _require_text(job, num_documents):
    if not num_documents:
        raise InputError(f"{job.input_path}: input file has no text (only blank lines)")


class _SplitFile:
    """An input file of several blocks, from its first block to its committed output.

    Its temporary directory, `<output name>.<random>.tmp` next to the output, holds the
    file's token ids (`tokens`, see `block_spans`) and `slots` slot files: chunk c is
    written to slot c % slots, and appended from there to the output in its turn.
    Chunk c may start only once chunk c - slots is appended (`may_start`).

    Args:
        job: the `ShardJob`.
        blocks: its `Block`s.
        random_seed: for the order of its instances.
        slots: chunks that may be written ahead of their turn.
    """

    def __init__(self, job, blocks, random_seed, slots):
        self.job = job
        self.blocks = blocks
        self.random_seed = random_seed
        self.slots = slots
        self.block_results = [None] * len(blocks)
        self.unfinished_blocks = len(blocks)
        self.spans = None  # all the file's instances, once every block is done
        self.order = None  # their order in the output
        self.done_chunks = {}  # chunk index -> `write_chunk` result, for chunks not yet appended
        self.next_chunk = 0
        self.stats = ShardStats()
        self.writer = None
        self.committed = False
        directory, name = os.path.split(os.path.abspath(job.output_path))
        self.temp_dir = tempfile.mkdtemp(prefix=name + ".", suffix=".tmp", dir=directory)
        self.token_path = os.path.join(self.temp_dir, "tokens")
        open(self.token_path, "wb").close()

    def finish_block(self, block, result):
        """Takes a block's `block_spans`; after the file's last block, returns its number of chunks (else 0).

        Raises:
            InputError: the file has no text at all.
        """
        self.block_results[block.index] = result
        self.unfinished_blocks -= 1
        if self.unfinished_blocks:
            return 0
        documents = sum(result[0] for result in self.block_results)
        _require_text(self.job, documents)
        self.spans = pretraining_instances.InstanceSpans.concatenate([result[1] for result in self.block_results])
        self.block_results = None
        self.order = _shuffled(len(self.spans), self.random_seed, self.job.file_index)
        self.stats = ShardStats(documents=documents, instances=len(self.spans))
        self.writer = AtomicShardWriter(self.job.output_path)
        return -(-len(self.spans) // WRITE_BATCH)

    def may_start(self, chunk_index):
        return chunk_index < self.next_chunk + self.slots

    def chunk_arguments(self, options, chunk_index):
        """The arguments of `write_chunk` for one chunk."""
        spans = self.spans.take(self.order[chunk_index * WRITE_BATCH:(chunk_index + 1) * WRITE_BATCH])
        slot_path = os.path.join(self.temp_dir, f"slot-{chunk_index % self.slots}")
        return self.token_path, spans, options, self.job.file_index, chunk_index, slot_path

    def finish_chunk(self, chunk_index, result):
        """Takes a chunk's `write_chunk`; appends the chunks whose turn has come, and commits after the last.

        Returns:
            the input bytes done with since the last call (for a progress bar).
        """
        self.done_chunks[chunk_index] = result
        appended_before = self.writer.num_records
        while self.next_chunk in self.done_chunks:
            size, num_tokens = self.done_chunks.pop(self.next_chunk)
            slot_path = os.path.join(self.temp_dir, f"slot-{self.next_chunk % self.slots}")
            num_records = min(WRITE_BATCH, len(self.spans) - self.writer.num_records)
            self.writer.append_file(slot_path, size, num_records)
            self.stats.tokens += num_tokens
            self.next_chunk += 1
        file_bytes = self.blocks[-1].end
        done_bytes = (file_bytes * self.writer.num_records - file_bytes * appended_before) // len(self.spans)
        if self.writer.num_records == len(self.spans):
            self.writer.commit()
            self.committed = True
            self.spans = self.order = None
            self.discard()
        return done_bytes

    def discard(self):
        """Removes the temporary directory, and the output's temporary file unless committed."""
        shutil.rmtree(self.temp_dir, ignore_errors=True)
        if self.writer is not None and not self.committed:
            self.writer.discard()


def write_shard(job, options, block_bytes=BLOCK_BYTES):
    """Writes one input file's output in this process; returns its `ShardStats`."""
    return write_shards([job], options, num_workers=1, show_progress=False, block_bytes=block_bytes)


def write_shards(jobs, options, num_workers=1, show_progress=True, block_bytes=BLOCK_BYTES):
    """Writes every job's output (see the module docstring), in `num_workers` processes.

    Args:
        jobs: `ShardJob`s from `plan_jobs`.
        options: `PretrainingDataOptions`.
        num_workers: processes; 1 runs in this process. The output is the same for any number.
        show_progress: draw a tqdm bar (only when stderr is a terminal).
        block_bytes: minimum block size (see `split_blocks`); the output depends on it.

    Returns:
        the summed `ShardStats`.

    Raises:
        InputError: from any shard; no temporary file is left behind.
    """
    total_bytes = sum(os.path.getsize(job.input_path) for job in jobs)
    bar = tqdm.tqdm(total=total_bytes, unit="B", unit_scale=True, disable=None if show_progress else True)
    split_files = []
    try:
        plans = [(job, split_blocks(job, block_bytes)) for job in jobs]
        num_workers = max(1, min(num_workers, sum(len(blocks) for _, blocks in plans)))
        tasks = _Tasks(options, bar)
        for job, blocks in plans:
            if len(blocks) == 1:
                tasks.add_small_file(blocks[0])
            else:
                split_files.append(_SplitFile(job, blocks, options.random_seed, slots=4 * num_workers))
                tasks.add_split_file(split_files[-1])
        workers.run_tasks(tasks.next_task, num_workers)
    finally:
        bar.close()
        for split_file in split_files:
            split_file.discard()
    return tasks.totals


class _Tasks:
    """The tasks of all files: small files, blocks, and (ahead of any block) chunks once drawn.

    Args:
        options: `PretrainingDataOptions`.
        bar: a tqdm bar counting input bytes.
    """

    def __init__(self, options, bar):
        self.options = options
        self.bar = bar
        self.waiting = collections.deque()  # (function, args, on_done)
        self.waiting_chunks = collections.deque()  # (split file, chunk index), in order
        self.totals = ShardStats()

    def add_small_file(self, block):
        def done(stats):
            self.totals += stats
            self.bar.update(block.end)

        self.waiting.append((write_small_file, (block, self.options), done))

    def add_split_file(self, split_file):
        def block_done(block, result):
            for chunk_index in range(split_file.finish_block(block, result)):
                self.waiting_chunks.append((split_file, chunk_index))

        for block in split_file.blocks:
            args = (block, self.options, split_file.token_path)
            self.waiting.append((block_spans, args, functools.partial(block_done, block)))

    def _chunk_done(self, split_file, chunk_index, result):
        self.bar.update(split_file.finish_chunk(chunk_index, result))
        if split_file.committed:
            self.totals += split_file.stats

    def next_task(self):
        """The next task that may start, or None."""
        if self.waiting_chunks and self.waiting_chunks[0][0].may_start(self.waiting_chunks[0][1]):
            split_file, chunk_index = self.waiting_chunks.popleft()
            # Made only now, so that memory holds the spans of few chunks.
            args = split_file.chunk_arguments(self.options, chunk_index)
            return write_chunk, args, functools.partial(self._chunk_done, split_file, chunk_index)
        return self.waiting.popleft() if self.waiting else None
