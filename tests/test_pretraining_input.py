"""pretraining_input.make_pretraining_dataset: shapes, order, sharding, dynamic masking, bad shards."""

import pathlib
import random

import numpy as np
import pytest

from bert.pretraining import shards as pretraining_shards
from bert.errors import InputError

tf = pytest.importorskip("tensorflow")
from bert.pretraining import input_pipeline as pretraining_input  # noqa: E402  (needs TensorFlow)

SEQ, PREDS = 128, 20
WORDS = ("the history of the river valley shows how farmers terraced hillsides and irrigated orchards while "
         "merchants traded unaffable spices across mountainous borders during prosperous centuries").split()


def write_text_shards(directory, num_files, documents_per_file=12, seed=0):
    rng = random.Random(seed)
    paths = []
    for index in range(num_files):
        documents = []
        for _ in range(documents_per_file):
            sentences = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 20))) + "."
                         for _ in range(rng.randint(2, 10))]
            documents.append("\n".join(sentences))
        path = directory / f"text_{index}.txt"
        path.write_text("\n\n".join(documents) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def vocab_file(minilm):
    return str(minilm / "vocab.txt")


def make_shards(directory, vocab_file, num_files, do_masking, documents_per_file=12):
    (directory / "text").mkdir()
    write_text_shards(directory / "text", num_files, documents_per_file)
    jobs = pretraining_shards.plan_jobs(input_dir=str(directory / "text"), output_dir=str(directory / "records"))
    pretraining_shards.check_jobs(jobs)
    options = pretraining_shards.PretrainingDataOptions(vocab_file, dupe_factor=2, do_masking=do_masking)
    pretraining_shards.write_shards(jobs, options, show_progress=False)
    return [job.output_path for job in jobs]


@pytest.fixture(scope="module")
def masked_shards(tmp_path_factory, vocab_file):
    return make_shards(tmp_path_factory.mktemp("masked"), vocab_file, 4, do_masking=True)


@pytest.fixture(scope="module")
def plain_shards(tmp_path_factory, vocab_file):
    return make_shards(tmp_path_factory.mktemp("plain"), vocab_file, 2, do_masking=False, documents_per_file=100)


def records_of(files):
    """Every example of the files, in file order, parsed with tf.train.Example."""
    examples = []
    for path in files:
        for record in tf.data.TFRecordDataset(path):
            features = tf.train.Example.FromString(record.numpy()).features.feature
            examples.append({name: np.array(feature.int64_list.value or feature.float_list.value)
                             for name, feature in features.items()})
    return examples


def take(dataset, num_batches):
    return [{name: value.numpy() for name, value in batch.items()} for batch in dataset.take(num_batches)]


def test_shapes_dtypes_and_values_in_order(masked_shards):
    dataset = pretraining_input.make_pretraining_dataset(masked_shards, 8, SEQ, PREDS, is_training=False)
    assert dataset.element_spec["input_ids"].shape.as_list() == [8, SEQ]
    batches = take(dataset, 3)
    expected_dtypes = {"input_ids": np.int32, "input_mask": np.int32, "segment_ids": np.int32,
                       "masked_lm_positions": np.int32, "masked_lm_ids": np.int32,
                       "masked_lm_weights": np.float32, "next_sentence_labels": np.int32}
    widths = {"masked_lm_positions": PREDS, "masked_lm_ids": PREDS, "masked_lm_weights": PREDS,
              "next_sentence_labels": 1}
    for name, dtype in expected_dtypes.items():
        assert batches[0][name].dtype == dtype
        assert batches[0][name].shape == (8, widths.get(name, SEQ))
    records = records_of(masked_shards)[:24]
    for index, record in enumerate(records):
        batch = batches[index // 8]
        for name in expected_dtypes:
            np.testing.assert_array_equal(batch[name][index % 8], record[name])


def test_training_pipeline_is_reproducible_and_shuffled(masked_shards):
    def first_ids(seed):
        dataset = pretraining_input.make_pretraining_dataset(masked_shards, 16, SEQ, PREDS, seed=seed,
                                                             shuffle_buffer=200)
        return np.concatenate([batch["input_ids"] for batch in take(dataset, 4)])

    first = first_ids(5)
    np.testing.assert_array_equal(first, first_ids(5))
    assert not np.array_equal(first, first_ids(6))
    in_file_order = np.stack([record["input_ids"] for record in records_of(masked_shards)[:64]])
    assert not np.array_equal(first, in_file_order)


@pytest.mark.parametrize("use_one_file", [False, True])
def test_worker_sharding_splits_the_data(masked_shards, use_one_file):
    files = masked_shards[:1] if use_one_file else masked_shards
    all_rows = {record["input_ids"].tobytes() for record in records_of(files)}
    seen = []
    for pipeline_id in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline_id,
                                             num_replicas_in_sync=2)
        dataset = pretraining_input.make_pretraining_dataset(files, 8, SEQ, PREDS, is_training=False,
                                                             input_context=context)
        batches = take(dataset, 1000)
        assert batches[0]["input_ids"].shape == (4, SEQ)  # per-replica batch
        seen.append({row.tobytes() for batch in batches for row in batch["input_ids"].astype(np.int64)})
    assert not seen[0] & seen[1]
    assert seen[0] | seen[1] <= all_rows
    assert len(seen[0] | seen[1]) >= len(all_rows) - 2 * 4  # only the dropped remainders are missing


def dynamic_dataset(files, vocab_file, seed, is_training=False, batch_size=32):
    return pretraining_input.make_pretraining_dataset(
        files, batch_size, SEQ, PREDS, is_training=is_training, seed=seed, dynamic_masking=True,
        **pretraining_input.dynamic_masking_ids(vocab_file))


def test_dynamic_masking_follows_googles_rule(plain_shards, vocab_file):
    ids = pretraining_input.dynamic_masking_ids(vocab_file)
    mask_id, specials = ids["mask_token_id"], ids["special_token_ids"]
    batches = take(dynamic_dataset(plain_shards, vocab_file, seed=1), 12)
    records = records_of(plain_shards)
    kinds = {"mask": 0, "same": 0, "random": 0}
    for batch_index, batch in enumerate(batches):
        for row in range(32):
            original = records[batch_index * 32 + row]["input_ids"]
            length = batch["input_mask"][row].sum()
            count = int(batch["masked_lm_weights"][row].sum())
            assert count == min(PREDS, max(1, round(length * 0.15)))
            positions = batch["masked_lm_positions"][row]
            assert (np.diff(positions[:count]) > 0).all() and not positions[count:].any()
            assert positions[:count].max() < length
            assert not np.isin(original[positions[:count]], specials).any()
            np.testing.assert_array_equal(batch["masked_lm_ids"][row][:count], original[positions[:count]])
            unchanged = np.ones(SEQ, dtype=bool)
            unchanged[positions[:count]] = False
            np.testing.assert_array_equal(batch["input_ids"][row][unchanged], original[unchanged])
            now = batch["input_ids"][row][positions[:count]]
            was = original[positions[:count]]
            kinds["mask"] += int((now == mask_id).sum())
            kinds["same"] += int(((now != mask_id) & (now == was)).sum())
            kinds["random"] += int(((now != mask_id) & (now != was)).sum())
    total = sum(kinds.values())
    assert total > 3000
    assert kinds["mask"] / total == pytest.approx(0.8, abs=0.03)
    assert kinds["same"] / total == pytest.approx(0.1, abs=0.025)
    assert kinds["random"] / total == pytest.approx(0.1, abs=0.025)


def test_dynamic_masks_are_reproducible_and_new_each_epoch(plain_shards, vocab_file):
    first = take(dynamic_dataset(plain_shards, vocab_file, seed=3), 2)
    again = take(dynamic_dataset(plain_shards, vocab_file, seed=3), 2)
    np.testing.assert_array_equal(first[0]["masked_lm_positions"], again[0]["masked_lm_positions"])
    np.testing.assert_array_equal(first[1]["input_ids"], again[1]["input_ids"])

    num_records = len(records_of(plain_shards[:1]))
    dataset = dynamic_dataset(plain_shards[:1], vocab_file, seed=3, is_training=True, batch_size=16)
    masks = {}
    for batch in take(dataset, 3 * num_records // 16):
        for row in range(16):
            restored = batch["input_ids"][row].copy()
            count = int(batch["masked_lm_weights"][row].sum())
            restored[batch["masked_lm_positions"][row][:count]] = batch["masked_lm_ids"][row][:count]
            masks.setdefault(restored.tobytes(), []).append(batch["masked_lm_positions"][row].tobytes())
    repeated = [positions for positions in masks.values() if len(positions) >= 2]
    assert len(repeated) > num_records // 2
    assert sum(len(set(positions)) == len(positions) for positions in repeated) > 0.9 * len(repeated)


def test_wrong_lengths_name_file_feature_and_lengths(masked_shards):
    with pytest.raises(InputError) as error:
        pretraining_input.make_pretraining_dataset(masked_shards, 8, 64, PREDS)
    message = str(error.value)
    assert masked_shards[0] in message and "'input_ids'" in message and "128" in message and "64" in message
    with pytest.raises(InputError, match="'masked_lm_positions' has length 20 .* expects 30"):
        pretraining_input.make_pretraining_dataset(masked_shards, 8, SEQ, 30)


def test_missing_files_and_mode_mismatch(tmp_path, masked_shards, plain_shards, vocab_file):
    with pytest.raises(InputError, match="nothing-here"):
        pretraining_input.make_pretraining_dataset(str(tmp_path / "nothing-here*.tfrecord"), 8, SEQ, PREDS)
    with pytest.raises(InputError, match="no masked positions"):
        pretraining_input.make_pretraining_dataset(plain_shards, 8, SEQ, PREDS)
    with pytest.raises(InputError, match="already masked"):
        dynamic_dataset(masked_shards, vocab_file, seed=1)
    empty = tmp_path / "empty.tfrecord"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="no records"):
        pretraining_input.make_pretraining_dataset(str(empty), 8, SEQ, PREDS)
    garbage = tmp_path / "garbage.tfrecord"
    garbage.write_bytes(pathlib.Path(vocab_file).read_bytes()[:200])
    with pytest.raises(InputError, match=r"garbage.tfrecord: not a TFRecord file \(bad record header\)"):
        pretraining_input.make_pretraining_dataset(str(garbage), 8, SEQ, PREDS)
    corrupt = tmp_path / "corrupt.tfrecord"
    shard = bytearray(pathlib.Path(masked_shards[0]).read_bytes())
    shard[8] ^= 1  # the masked CRC32C of the first record's length
    corrupt.write_bytes(bytes(shard))
    with pytest.raises(InputError, match=r"corrupt.tfrecord: not a TFRecord file \(bad record header\)"):
        pretraining_input.make_pretraining_dataset(str(corrupt), 8, SEQ, PREDS)
