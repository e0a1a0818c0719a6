"""create_pretraining_data.py and its modules: format, BERT structure, masking, blocks, workers, bad input."""

import collections
import os
import pathlib
import random
import subprocess
import sys

import numpy as np
import pytest

from bert.pretraining import instances as pretraining_instances
from bert.pretraining import shards as pretraining_shards
from bert.pretraining import tfrecord_writer
from bert.text import tokenization
from bert.errors import InputError

tf = pytest.importorskip("tensorflow")
from bert.pretraining import input_pipeline  # noqa: E402  (needs TensorFlow)

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
SAMPLE_CORPUS = REPO_ROOT / "data" / "sample" / "sample_corpus.txt"
SEQ, PREDS = 128, 20

FEATURE_SPEC = input_pipeline.feature_spec(SEQ, PREDS)  # Google's name_to_features

TOPICS = [
    "The unaffable librarian catalogued manuscripts about photosynthesis and thermodynamics.",
    "Volcanologists measured the hydrothermal vents near the archipelago.",
    "A cartographer redrew the coastline after the earthquake reshaped the peninsula.",
    "Beekeepers noticed that pollinators preferred lavender over rhododendrons.",
    "The orchestra rehearsed an unfinished symphony by a forgotten composer.",
    "Engineers reinforced the suspension bridge with prefabricated girders.",
    "Astronomers photographed a supernova in a neighbouring constellation.",
    "The apprentice blacksmith hammered horseshoes until midnight.",
]


def write_generated_corpus(path, num_documents=60, seed=0):
    """Plain text in Google's format: sentences from TOPICS with varied words, blank lines between documents."""
    rng = random.Random(seed)
    words = " ".join(TOPICS).replace(".", "").split()
    lines = []
    for _ in range(num_documents):
        for _ in range(rng.randint(1, 14)):
            sentence = rng.choice(TOPICS) if rng.random() < 0.5 else " ".join(rng.sample(words, rng.randint(4, 18)))
            lines.append(sentence.rstrip(".") + ".")
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def vocab_file(minilm):
    return str(minilm / "vocab.txt")


@pytest.fixture(scope="module")
def tokenizer(vocab_file):
    return tokenization.FullTokenizer(vocab_file, do_lower_case=True)


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    directory = tmp_path_factory.mktemp("corpus")
    if SAMPLE_CORPUS.exists():
        path = directory / "corpus.txt"
        generated = write_generated_corpus(directory / "generated.txt", num_documents=40).read_text(encoding="utf-8")
        path.write_text(SAMPLE_CORPUS.read_text(encoding="utf-8").rstrip("\n") + "\n\n" + generated, encoding="utf-8")
        return path
    return write_generated_corpus(directory / "corpus.txt", num_documents=100)


def read_examples(path):
    dataset = tf.data.TFRecordDataset(str(path)).batch(1 << 20)
    records = next(iter(dataset))
    return {name: value.numpy() for name, value in tf.io.parse_example(records, FEATURE_SPEC).items()}


def write(corpus_file, output_path, vocab_file, **options):
    job = pretraining_shards.ShardJob(str(corpus_file), str(output_path), 0)
    stats = pretraining_shards.write_shard(job, pretraining_shards.PretrainingDataOptions(vocab_file, **options))
    return stats, read_examples(output_path)


@pytest.fixture(scope="module")
def static_output(tmp_path_factory, corpus_file, vocab_file):
    output = tmp_path_factory.mktemp("static") / "out.tfrecord"
    return write(corpus_file, output, vocab_file, dupe_factor=6)


def restored_ids(examples):
    """input_ids with the original token put back at every masked position."""
    ids = examples["input_ids"].copy()
    rows, slots = np.nonzero(examples["masked_lm_weights"])
    ids[rows, examples["masked_lm_positions"][rows, slots]] = examples["masked_lm_ids"][rows, slots]
    return ids


def document_strings(corpus_file, tokenizer):
    """Each document of the corpus as ' id id ... ' (independent of the module under test)."""
    documents = [[]]
    for line in pathlib.Path(corpus_file).read_text(encoding="utf-8").split("\n"):
        line = line.strip()
        if not line:
            documents.append([])
            continue
        documents[-1].extend(tokenizer.convert_tokens_to_ids(tokenizer.tokenize(line)))
    return [" " + " ".join(map(str, document)) + " " for document in documents if document]


def as_string(ids):
    return " " + " ".join(map(str, ids)) + " "


def test_output_parses_with_google_spec_and_has_bert_structure(static_output, tokenizer):
    stats, examples = static_output
    cls_id, sep_id = tokenizer.vocab["[CLS]"], tokenizer.vocab["[SEP]"]
    assert len(examples["input_ids"]) == stats.instances > 300
    ids = restored_ids(examples)
    lengths = examples["input_mask"].sum(axis=1)
    assert examples["input_mask"].sum() == stats.tokens
    for row in range(len(ids)):
        length = lengths[row]
        a_end = int((examples["segment_ids"][row][:length] == 0).sum()) - 1  # position of the first [SEP]
        assert ids[row, 0] == cls_id
        assert ids[row, a_end] == sep_id and ids[row, length - 1] == sep_id
        assert a_end >= 2 and length - 1 - a_end >= 2  # A and B are not empty
        assert not np.isin(ids[row, 1:a_end], [cls_id, sep_id]).any()
        assert not np.isin(ids[row, a_end + 1:length - 1], [cls_id, sep_id]).any()
        np.testing.assert_array_equal(examples["input_mask"][row], np.arange(SEQ) < length)
        in_b = (np.arange(SEQ) > a_end) & (np.arange(SEQ) < length)
        np.testing.assert_array_equal(examples["segment_ids"][row], in_b)
        assert not examples["input_ids"][row, length:].any()
    assert set(np.unique(examples["next_sentence_labels"])) == {0, 1}


def test_masked_lm_features(static_output, tokenizer):
    _, examples = static_output
    lengths = examples["input_mask"].sum(axis=1)
    weights = examples["masked_lm_weights"]
    assert set(np.unique(weights)) == {0.0, 1.0}
    counts = weights.sum(axis=1).astype(int)
    expected = np.minimum(PREDS, np.maximum(1, [round(length * 0.15) for length in lengths]))
    np.testing.assert_array_equal(counts, expected)
    for row in range(len(weights)):
        count = counts[row]
        assert (weights[row, :count] == 1).all() and (weights[row, count:] == 0).all()
        positions = examples["masked_lm_positions"][row]
        assert (np.diff(positions[:count]) > 0).all()  # sorted, distinct
        assert not positions[count:].any() and not examples["masked_lm_ids"][row, count:].any()
        assert positions[:count].min() >= 1 and positions[:count].max() < lengths[row] - 1
        assert tokenizer.vocab["[SEP]"] not in restored_ids(examples)[row, positions[:count]]
    assert weights.sum() / examples["input_mask"].sum() == pytest.approx(0.15, abs=0.01)


def test_80_10_10_replacement_split(static_output, tokenizer):
    _, examples = static_output
    rows, slots = np.nonzero(examples["masked_lm_weights"])
    now = examples["input_ids"][rows, examples["masked_lm_positions"][rows, slots]]
    original = examples["masked_lm_ids"][rows, slots]
    assert len(now) > 4000
    is_mask = now == tokenizer.vocab["[MASK]"]
    assert is_mask.mean() == pytest.approx(0.8, abs=0.025)
    assert (~is_mask & (now == original)).mean() == pytest.approx(0.1, abs=0.02)
    assert (~is_mask & (now != original)).mean() == pytest.approx(0.1, abs=0.02)


def test_segments_come_from_the_corpus(static_output, corpus_file, tokenizer):
    _, examples = static_output
    documents = document_strings(corpus_file, tokenizer)
    ids = restored_ids(examples)
    lengths = examples["input_mask"].sum(axis=1)
    max_num_tokens = SEQ - 3
    untruncated_actual_next = 0
    for row in range(len(ids)):
        length = lengths[row]
        a_end = int((examples["segment_ids"][row][:length] == 0).sum()) - 1
        segment_a, segment_b = ids[row, 1:a_end], ids[row, a_end + 1:length - 1]
        assert any(as_string(segment_a) in document for document in documents)
        assert any(as_string(segment_b) in document for document in documents)
        if examples["next_sentence_labels"][row, 0] == 0 and len(segment_a) + len(segment_b) < max_num_tokens:
            # Actual next and nothing truncated: B follows A in the same document.
            assert any(as_string(np.concatenate([segment_a, segment_b])) in document for document in documents)
            untruncated_actual_next += 1
    assert untruncated_actual_next > 10


def test_whole_word_masking_never_splits_a_word(tmp_path, corpus_file, vocab_file, tokenizer):
    _, examples = write(corpus_file, tmp_path / "wwm.tfrecord", vocab_file, dupe_factor=3, do_whole_word_mask=True)
    ids = restored_ids(examples)
    is_subword = np.array([tokenizer.inv_vocab[i].startswith("##") for i in range(len(tokenizer.inv_vocab))])
    masked = np.zeros(ids.shape, dtype=bool)
    rows, slots = np.nonzero(examples["masked_lm_weights"])
    masked[rows, examples["masked_lm_positions"][rows, slots]] = True
    specials = np.isin(ids, [tokenizer.vocab["[CLS]"], tokenizer.vocab["[SEP]"], 0])
    continues_word = is_subword[ids] & ~np.roll(specials, 1, axis=1)  # a "##" piece after a real token
    continues_word[:, 0] = False
    assert (masked[continues_word] == np.roll(masked, 1, axis=1)[continues_word]).all()
    assert (masked & is_subword[ids]).sum() > 50  # multi-piece words were masked, whole
    counts = examples["masked_lm_weights"].sum(axis=1)
    budget = np.minimum(PREDS, np.maximum(1, np.round(examples["input_mask"].sum(axis=1) * 0.15)))
    assert (counts <= budget).all() and counts.mean() > 0.9 * budget.mean()


def test_no_masking_writes_plain_sequences(tmp_path, corpus_file, vocab_file, tokenizer):
    _, examples = write(corpus_file, tmp_path / "plain.tfrecord", vocab_file, dupe_factor=1, do_masking=False)
    for name in ("masked_lm_positions", "masked_lm_ids", "masked_lm_weights"):
        assert not examples[name].any()
    assert tokenizer.vocab["[MASK]"] not in examples["input_ids"]


def test_instances_respect_max_seq_length_and_short_targets(tmp_path, corpus_file, vocab_file):
    _, examples = write(corpus_file, tmp_path / "short.tfrecord", vocab_file, dupe_factor=2,
                        short_seq_prob=1.0, random_seed=7)
    lengths = examples["input_mask"].sum(axis=1)
    assert lengths.max() <= SEQ and lengths.min() >= 5
    _, full = write(corpus_file, tmp_path / "full.tfrecord", vocab_file, dupe_factor=2, short_seq_prob=0.0)
    assert lengths.mean() < 0.8 * full["input_mask"].sum(axis=1).mean()


def test_read_corpus_splits_documents_like_google(tmp_path, tokenizer):
    path = tmp_path / "docs.txt"
    text = "  First doc, line one.\r\nLine two.\n \t \n\n\nSecond doc.\n\u200b\nStill second.\nno newline"
    path.write_bytes(text.encode())
    corpus = pretraining_instances.read_corpus(str(path), tokenizer, read_bytes=7)
    assert corpus.num_documents == 2
    np.testing.assert_array_equal(corpus.document_starts, [0, 2, 5])
    sentences = np.split(corpus.tokens, corpus.sentence_starts[1:-1])
    expected = ["First doc, line one.", "Line two.", "Second doc.", "Still second.", "no newline"]
    assert [list(sentence) for sentence in sentences] == [
        tokenizer.convert_tokens_to_ids(tokenizer.tokenize(text)) for text in expected
    ]


def test_word_cache_matches_whole_line_tokenization(tokenizer):
    lines = [
        "Héllo, unaffable WORLD!", "ΣΊΣΥΦΟΣ ΟΔΟΣ", "tab\tand\u00a0nbsp", "   ", "x" * 250, "naïve café",
        "zero\u200bwidth", "漢字 mixed中文", "a\u2028b", "emoji 🙂 ok", "", " \r",
    ]
    special = ["ctrl\x1fjoined \x0bvertical", "nul\x00joined", "\x1c"]
    cache = pretraining_instances.WordCache(tokenizer, max_words=5)
    for text_lines in (lines, lines + special):  # split as a whole, then line by line
        for _ in range(2):  # cold, then with the cache overflowing and restarting
            tokens, line_lengths, blank = cache.line_tokens("\n".join(text_lines) + "\n")
            expected = tokenizer.batch_token_ids([line.strip() for line in text_lines])
            assert list(line_lengths) == [len(ids) for ids in expected]
            assert list(tokens) == [i for ids in expected for i in ids]
            assert list(blank) == [not line.strip() for line in text_lines]


def test_truncation_and_spans_fit(tokenizer, corpus_file):
    corpus = pretraining_instances.read_corpus(str(corpus_file), tokenizer)
    spans = pretraining_instances.create_instance_spans(corpus, 16, 0.1, 2, random.Random(3))
    assert ((spans.a_length >= 1) & (spans.b_length >= 1)).all()
    assert (spans.a_length + spans.b_length <= 13).all()
    assert ((spans.a_start >= 0) & (spans.b_start + spans.b_length <= len(corpus.tokens))).all()


# --- serialization --------------------------------------------------------------------------------


def test_serialized_examples_match_protobuf_and_tfrecord_writer(tmp_path):
    rng = np.random.default_rng(0)
    values = np.array([[0, 1, 127, 128, 16383, 16384, 2**21, 2**31 - 1, 2**35, 2**62]] * 3)
    features = {
        "ints": values,
        "ids": rng.integers(0, 40000, (3, 7)),
        "floats": rng.standard_normal((3, 4)).astype(np.float32),
        "one": np.array([[1], [0], [1]]),
    }
    buffer, offsets = tfrecord_writer.serialize_examples(features)
    for row in range(3):
        expected = tf.train.Example()
        for name, array in features.items():
            feature = expected.features.feature[name]
            if array.dtype.kind == "f":
                feature.float_list.value.extend(array[row].tolist())
            else:
                feature.int64_list.value.extend(array[row].tolist())
        assert tf.train.Example.FromString(buffer[offsets[row]:offsets[row + 1]].tobytes()) == expected
    ours, theirs = tmp_path / "ours.tfrecord", tmp_path / "theirs.tfrecord"
    with tfrecord_writer.AtomicShardWriter(ours) as writer:
        writer.write_records(buffer, offsets)
    with tf.io.TFRecordWriter(str(theirs)) as writer:
        for row in range(3):
            writer.write(buffer[offsets[row]:offsets[row + 1]].tobytes())
    assert ours.read_bytes() == theirs.read_bytes()
    assert tfrecord_writer.frame_examples(features) == theirs.read_bytes()


def test_masked_crc32c_known_value():
    masked, empty = tfrecord_writer.masked_crc32c([b"123456789", b""]).tolist()
    assert empty == 0xA282EAD8  # CRC-32C of nothing is 0
    unmasked = ((masked - 0xA282EAD8) & 0xFFFFFFFF)
    assert ((unmasked >> 17) | (unmasked << 15)) & 0xFFFFFFFF == 0xE3069283  # CRC-32C check value


def test_failed_shard_leaves_no_file(tmp_path, corpus_file, vocab_file, monkeypatch):
    def broken(features):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(tfrecord_writer, "frame_examples", broken)
    output = tmp_path / "out.tfrecord"
    with pytest.raises(RuntimeError):
        write(corpus_file, output, vocab_file, dupe_factor=1)
    assert list(tmp_path.iterdir()) == []


# --- blocks: one file split, processed in parallel, shuffled as a whole ------------------------------


def test_blocks_end_at_blank_lines_and_cover_the_file(tmp_path, corpus_file):
    text = pathlib.Path(corpus_file).read_bytes()
    job = pretraining_shards.ShardJob(str(corpus_file), str(tmp_path / "out.tfrecord"), 0)
    blocks = pretraining_shards.split_blocks(job, block_bytes=2000)
    assert len(blocks) > 5
    assert [block.start for block in blocks[1:]] == [block.end for block in blocks[:-1]]
    assert blocks[0].start == 0 and blocks[-1].end == len(text)
    for block in blocks[:-1]:
        assert block.end - block.start >= 2000
        assert text.find(b"\n\n", block.start + 2000 - 1) + 2 == block.end  # the first blank line after 2000 bytes
    assert pretraining_shards.split_blocks(job, block_bytes=len(text)) == [
        pretraining_shards.Block(job, 0, 0, len(text), 1)
    ]


def test_blocks_cut_at_whitespace_lines_only(tmp_path):
    path = tmp_path / "text.txt"
    path.write_bytes(b"a b c\n" * 10 + b" \t\r\n" + b"d e\n" * 10 + b"\xc2\xa0\n" + b"f\n" * 10)
    job = pretraining_shards.ShardJob(str(path), str(tmp_path / "out.tfrecord"), 0)
    blocks = pretraining_shards.split_blocks(job, block_bytes=8)
    assert [(block.start, block.end) for block in blocks] == [(0, 64), (64, len(path.read_bytes()))]
    path.write_bytes(b"one long document\n" * 100)
    assert len(pretraining_shards.split_blocks(job, block_bytes=8)) == 1


def test_split_file_without_text_is_an_input_error(tmp_path, vocab_file):
    path = tmp_path / "blank.txt"
    path.write_bytes(b"\n \n\t\n" * 5000)
    job = pretraining_shards.ShardJob(str(path), str(tmp_path / "out.tfrecord"), 0)
    options = pretraining_shards.PretrainingDataOptions(vocab_file)
    with pytest.raises(InputError, match="no text"):
        pretraining_shards.write_shards([job], options, show_progress=False, block_bytes=4096)
    assert [p.name for p in tmp_path.iterdir()] == ["blank.txt"]


@pytest.fixture(scope="module")
def split_outputs(tmp_path_factory, corpus_file, vocab_file):
    """One input file in blocks of 4 KB, written with 1 and with 2 worker processes."""
    directory = tmp_path_factory.mktemp("split")
    options = pretraining_shards.PretrainingDataOptions(vocab_file, dupe_factor=3, random_seed=5)
    outputs = {}
    for workers in (1, 2):
        job = pretraining_shards.ShardJob(str(corpus_file), str(directory / f"out{workers}.tfrecord"), 0)
        stats = pretraining_shards.write_shards([job], options, num_workers=workers, show_progress=False,
                                                block_bytes=4096)
        outputs[workers] = stats, pathlib.Path(job.output_path)
    assert sorted(path.name for path in directory.iterdir()) == ["out1.tfrecord", "out2.tfrecord"]  # no leftovers
    return options, outputs


def test_split_file_is_identical_with_one_and_two_workers(split_outputs):
    _, outputs = split_outputs
    assert outputs[1][0] == outputs[2][0]
    assert outputs[1][1].read_bytes() == outputs[2][1].read_bytes()


def test_split_file_is_a_shuffle_of_all_its_blocks_instances(split_outputs, corpus_file, tokenizer):
    options, outputs = split_outputs
    stats, path = outputs[2]
    job = pretraining_shards.ShardJob(str(corpus_file), str(path), 0)
    blocks = pretraining_shards.split_blocks(job, block_bytes=4096)
    cls_id, sep_id = tokenizer.vocab["[CLS]"], tokenizer.vocab["[SEP]"]
    block_of = {}  # unmasked instance -> its block; each block's instances made on their own
    expected = collections.Counter()
    for block in blocks:
        _, spans, tokens = pretraining_shards.block_spans(block, options)
        inputs = pretraining_instances.assemble_inputs(tokens, spans.shifted(-block.start), SEQ, cls_id, sep_id)
        for row in range(len(spans)):
            key = (inputs["input_ids"][row].tobytes(), int(spans.is_random_next[row]))
            expected[key] += 1
            block_of[key] = block.index
    examples = read_examples(path)
    ids = restored_ids(examples).astype(np.int32)
    keys = [(ids[row].tobytes(), int(examples["next_sentence_labels"][row, 0])) for row in range(len(ids))]
    assert len(keys) == stats.instances == sum(expected.values())
    assert collections.Counter(keys) == expected  # every instance of every block, once
    sequence = np.array([block_of[key] for key in keys])
    shares = np.bincount(sequence) / len(sequence)
    expected_changes = (len(sequence) - 1) * (1 - (shares ** 2).sum())  # uniform shuffle
    assert np.count_nonzero(np.diff(sequence)) > 0.9 * expected_changes
    assert set(sequence[: len(sequence) // 4]) == set(range(len(blocks)))


def test_split_file_error_leaves_no_file(tmp_path, corpus_file, vocab_file):
    text = pathlib.Path(corpus_file).read_bytes()
    bad = tmp_path / "bad.txt"
    bad.write_bytes(text + b"\n\nCaf\xe9 au lait.\n" + text)  # invalid UTF-8 in a middle block
    options = pretraining_shards.PretrainingDataOptions(vocab_file, dupe_factor=1)
    job = pretraining_shards.ShardJob(str(bad), str(tmp_path / "out" / "bad.tfrecord"), 0)
    (tmp_path / "out").mkdir()
    for workers in (1, 2):
        with pytest.raises(InputError, match=f"byte offset {len(text) + 5} "):
            pretraining_shards.write_shards([job], options, num_workers=workers, show_progress=False,
                                            block_bytes=4096)
        assert list((tmp_path / "out").iterdir()) == []


# --- the script -----------------------------------------------------------------------------------


def run_script(*args):
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "create_pretraining_data.py"), *args],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=120,
    )


def test_output_is_identical_with_one_and_two_workers(tmp_path, corpus_file, vocab_file):
    text = pathlib.Path(corpus_file).read_text(encoding="utf-8").split("\n\n")
    inputs = tmp_path / "in"
    inputs.mkdir()
    for index in range(3):
        (inputs / f"part_{index}.txt").write_text("\n\n".join(text[index::3]) + "\n", encoding="utf-8")
    outputs = {}
    for workers in (1, 2):
        output_dir = tmp_path / f"out{workers}"
        result = run_script(f"--input_dir={inputs}", f"--output_dir={output_dir}", f"--vocab_file={vocab_file}",
                            "--dupe_factor=2", f"--num_workers={workers}")
        assert result.returncode == 0, result.stderr
        assert "instances" in result.stdout and "tokens/s" in result.stdout
        outputs[workers] = {path.name: path.read_bytes() for path in sorted(output_dir.iterdir())}
    assert list(outputs[1]) == ["part_0.tfrecord", "part_1.tfrecord", "part_2.tfrecord"]
    assert outputs[1] == outputs[2]
    assert len(set(outputs[1].values())) == 3  # each file has its own random stream


def test_num_workers_defaults_to_the_usable_cpus():
    result = run_script("--helpfull")
    help_text = result.stdout.split("--num_workers:", 1)[1].split("--", 1)[0]
    assert f"(default: '{len(os.sched_getaffinity(0))}')" in help_text


def bad_input_cases(tmp_path, corpus_file, vocab_file):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Fine first line.\n\nCaf\xe9 au lait.\n".encode("latin-1"))
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    out = tmp_path / "out.tfrecord"
    common = [f"--vocab_file={vocab_file}"]
    return {
        "empty input": ([f"--input_file={empty}", f"--output_file={out}", *common], "empty"),
        "non-utf8": ([f"--input_file={latin1}", f"--output_file={out}", *common], "byte offset 21 (line 3)"),
        "missing vocab": ([f"--input_file={corpus_file}", f"--output_file={out}",
                           f"--vocab_file={tmp_path / 'nope.txt'}"], "nope.txt"),
        "predictions > length": ([f"--input_file={corpus_file}", f"--output_file={out}", *common,
                                  "--max_seq_length=16", "--max_predictions_per_seq=17"], "max_predictions_per_seq"),
        "glob matches nothing": ([f"--input_file={tmp_path / 'missing*.txt'}", f"--output_file={out}", *common],
                                 "missing*.txt"),
        "output dir not writable": ([f"--input_file={corpus_file}", f"--output_file={not_a_dir / 'out.tfrecord'}",
                                     *common], "cannot write"),
        "mismatched counts": ([f"--input_file={corpus_file}", f"--output_file={out},{tmp_path / 'b.tfrecord'}",
                               *common], "one output file per input file"),
    }


CASE_NAMES = ["empty input", "non-utf8", "missing vocab", "predictions > length", "glob matches nothing",
              "output dir not writable", "mismatched counts"]


@pytest.mark.parametrize("case", CASE_NAMES)
def test_bad_input_exits_2_with_one_line(case, tmp_path, corpus_file, vocab_file):
    args, expected = bad_input_cases(tmp_path, corpus_file, vocab_file)[case]
    result = run_script(*args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], result.stderr
    leftovers = [path.name for path in tmp_path.rglob("*") if path.suffix in (".tfrecord", ".tmp")]
    assert leftovers == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only directories")
def test_read_only_output_directory(tmp_path, corpus_file, vocab_file):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    result = run_script(f"--input_file={corpus_file}", f"--output_file={locked / 'out.tfrecord'}",
                        f"--vocab_file={vocab_file}")
    assert result.returncode == 2 and "cannot write" in result.stderr
    assert list(locked.iterdir()) == []


def test_options_validate_raises_input_error(vocab_file):
    with pytest.raises(InputError, match="max_seq_length"):
        pretraining_shards.PretrainingDataOptions(vocab_file, max_seq_length=4).validate()
