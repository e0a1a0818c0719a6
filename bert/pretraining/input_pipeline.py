"""tf.data pipeline over BERT pre-training TFRecord shards (Google's feature spec).

    files -> (train: shuffle, repeat) -> worker shard -> parallel interleave of records
          -> (train: shuffle buffer) -> batch (drop_remainder) -> parse -> [dynamic mask]
          -> prefetch

Each element is a dict of int32 `input_ids`, `input_mask`, `segment_ids`
[batch, max_seq_length], `masked_lm_positions`, `masked_lm_ids`
[batch, max_predictions_per_seq], `next_sentence_labels` [batch, 1] and float32
`masked_lm_weights` [batch, max_predictions_per_seq].

Before building the pipeline, the first record of every file is read on the Python
side, so a shard written with other lengths fails with a message that names the file
and the feature instead of a reshape error deep inside a training step.

With `dynamic_masking=True` (RoBERTa-style; for shards written with
`create_pretraining_data.py --no_masking`) every batch is masked afresh inside the
graph, with Google's rule: min(max_predictions_per_seq, max(1, round(length *
masked_lm_prob))) positions, never special tokens or padding; 80 % become [MASK],
10 % a random vocabulary id, 10 % stay. A repeated dataset thus sees new masks every
epoch, and the masks are reproducible from `seed`.

Example:
    >>> dataset = make_pretraining_dataset("data/tfrecord/*.tfrecord", batch_size=32,
    ...                                    max_seq_length=128, max_predictions_per_seq=20,
    ...                                    seed=1, dynamic_masking=True,
    ...                                    **dynamic_masking_ids("vocab.txt"))
    >>> batch = next(iter(dataset))   # batch["input_ids"]: int32 [32, 128]
"""

import struct

import tensorflow as tf

from bert.text import tokenization
from bert.errors import InputError
from bert.pretraining.tfrecord_writer import masked_crc32c

INT_FEATURES = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions", "masked_lm_ids",
                "next_sentence_labels")
MASKED_LM_FEATURES = ("masked_lm_positions", "masked_lm_ids", "masked_lm_weights")


def feature_spec(max_seq_length, max_predictions_per_seq):
    """Google's `name_to_features`: feature name -> `tf.io.FixedLenFeature`."""
    spec = {
        "input_ids": tf.io.FixedLenFeature([max_seq_length], tf.int64),
        "input_mask": tf.io.FixedLenFeature([max_seq_length], tf.int64),
        "segment_ids": tf.io.FixedLenFeature([max_seq_length], tf.int64),
        "masked_lm_positions": tf.io.FixedLenFeature([max_predictions_per_seq], tf.int64),
        "masked_lm_ids": tf.io.FixedLenFeature([max_predictions_per_seq], tf.int64),
        "masked_lm_weights": tf.io.FixedLenFeature([max_predictions_per_seq], tf.float32),
        "next_sentence_labels": tf.io.FixedLenFeature([1], tf.int64),
    }
    return spec


def list_input_files(input_patterns):
    """Sorted files matching the patterns (a list, or one comma-separated string of globs).

    Raises:
        InputError: a pattern matches no file.
    """
    if isinstance(input_patterns, str):
        input_patterns = input_patterns.split(",")
    files = []
    for pattern in input_patterns:
        pattern = pattern.strip()
        if not pattern:
            continue
        matched = sorted(tf.io.gfile.glob(pattern))
        if not matched:
            raise InputError(f"input pattern {pattern!r} matches no file")
        files.extend(matched)
    if not files:
        raise InputError("no input files given")
    return files


def read_first_example(path):
    """The first record of a TFRecord file as a `tf.train.Example`.

    Raises:
        InputError: the file is unreadable, empty or not a TFRecord of Examples.
    """
    try:
        with tf.io.gfile.GFile(path, "rb") as reader:
            header = reader.read(12)
            if not header:
                raise InputError(f"{path}: shard has no records")
            (length,) = struct.unpack("<Q", header[:8].ljust(8, b"\0"))
            if len(header) < 12 or int(masked_crc32c([header[:8]])[0]) != struct.unpack("<I", header[8:12])[0]:
                raise InputError(f"{path}: not a TFRecord file (bad record header)")
            data = reader.read(length)
    except tf.errors.OpError as error:
        raise InputError(f"{path}: cannot read shard ({error.message})") from None
    if len(data) != length:
        raise InputError(f"{path}: not a TFRecord file (record shorter than its header says)")
    try:
        return tf.train.Example.FromString(data)
    except Exception:  # protobuf's DecodeError, whose module differs between backends
        raise InputError(f"{path}: first record is not a tf.train.Example") from None


def check_shard(path, max_seq_length, max_predictions_per_seq, dynamic_masking):
    """Checks a shard's first example against the run's lengths and masking mode.

    Raises:
        InputError: naming the file, the feature, the stored and expected lengths; or
            a shard that is unmasked while `dynamic_masking` is off (or vice versa).
    """
    example = read_first_example(path)
    for name, spec in feature_spec(max_seq_length, max_predictions_per_seq).items():
        if name not in example.features.feature:
            raise InputError(f"{path}: feature {name!r} is missing")
        feature = example.features.feature[name]
        if spec.dtype == tf.float32:
            kind, values = "float_list", feature.float_list.value
        else:
            kind, values = "int64_list", feature.int64_list.value
        if feature.WhichOneof("kind") != kind:
            raise InputError(f"{path}: feature {name!r} is a {feature.WhichOneof('kind')}, expected a {kind}")
        if len(values) != spec.shape[0]:
            setting = "max_predictions_per_seq" if name in MASKED_LM_FEATURES else "max_seq_length"
            raise InputError(
                f"{path}: feature {name!r} has length {len(values)} but this run expects {spec.shape[0]} "
                f"({setting}={spec.shape[0]}); the shard was written with other lengths"
            )
    is_masked = any(example.features.feature["masked_lm_weights"].float_list.value)
    if dynamic_masking and is_masked:
        raise InputError(f"{path}: shard is already masked; dynamic masking needs shards written with --no_masking")
    if not dynamic_masking and not is_masked:
        raise InputError(f"{path}: shard has no masked positions (written with --no_masking?); use dynamic masking")


def dynamic_masking_ids(vocab_file):
    """`vocab_size`, `mask_token_id` and `special_token_ids` ([PAD], [CLS], [SEP]) of a vocab file."""
    vocab = tokenization.load_vocab(vocab_file)
    return {
        "vocab_size": len(vocab),
        "mask_token_id": vocab["[MASK]"],
        "special_token_ids": [vocab[token] for token in ("[PAD]", "[CLS]", "[SEP]") if token in vocab],
    }


def make_pretraining_dataset(input_patterns, batch_size, max_seq_length, max_predictions_per_seq,
                             is_training=True, input_context=None, shuffle_buffer=10000, seed=None,
                             dynamic_masking=False, vocab_size=None, mask_token_id=None,
                             special_token_ids=None, masked_lm_prob=0.15, cycle_length=4):
    """Builds the pre-training `tf.data.Dataset`.

    Args:
        input_patterns: comma-separated globs, or a list of globs, of TFRecord shards.
        batch_size: global batch size; with `input_context`, each replica gets
            `input_context.get_per_replica_batch_size(batch_size)`.
        max_seq_length, max_predictions_per_seq: the lengths the shards must have.
        is_training: shuffle files and records and repeat forever; otherwise read the
            files once, in order.
        input_context: a `tf.distribute.InputContext`; pipeline i of n reads every
            n-th file from the i-th on (every n-th record when there are fewer files
            than pipelines).
        shuffle_buffer: records in the shuffle buffer (training only).
        seed: makes file order, record shuffle and dynamic masks reproducible.
        dynamic_masking: mask each batch afresh (shards written with --no_masking).
        vocab_size, mask_token_id, special_token_ids: needed for dynamic masking
            (`dynamic_masking_ids(vocab_file)` gives them); special tokens are never
            masked.
        masked_lm_prob: fraction of tokens to predict with dynamic masking.
        cycle_length: files read in parallel.

    Returns:
        a `tf.data.Dataset` of feature dicts (see the module docstring).

    Raises:
        InputError: no files, or a shard whose lengths or masking mode do not match.
    """
    if dynamic_masking and (vocab_size is None or mask_token_id is None or special_token_ids is None):
        raise InputError("dynamic masking needs vocab_size, mask_token_id and special_token_ids")
    files = list_input_files(input_patterns)
    for path in files:
        check_shard(path, max_seq_length, max_predictions_per_seq, dynamic_masking)

    shard_records = None
    if input_context is not None:
        batch_size = input_context.get_per_replica_batch_size(batch_size)
        num_pipelines, pipeline_id = input_context.num_input_pipelines, input_context.input_pipeline_id
        if num_pipelines > 1:
            if len(files) >= num_pipelines:
                files = files[pipeline_id::num_pipelines]
            else:
                shard_records = (num_pipelines, pipeline_id)

    if is_training:
        dataset = tf.data.Dataset.from_tensor_slices(files)
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True).repeat()
        dataset = dataset.interleave(
            tf.data.TFRecordDataset,
            cycle_length=min(cycle_length, len(files)),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        if shard_records:
            dataset = dataset.shard(*shard_records)
        dataset = dataset.shuffle(shuffle_buffer, seed=seed)
    else:
        dataset = tf.data.TFRecordDataset(files)
        if shard_records:
            dataset = dataset.shard(*shard_records)

    spec = feature_spec(max_seq_length, max_predictions_per_seq)
    dataset = dataset.batch(batch_size, drop_remainder=True)
    dataset = dataset.map(lambda records: _parse_batch(records, spec), num_parallel_calls=tf.data.AUTOTUNE,
                          deterministic=True)
    if dynamic_masking:
        special_ids = tf.constant(list(special_token_ids), dtype=tf.int32)
        seeds = tf.data.Dataset.random(seed=seed).batch(2)  # one stateless seed per batch

        def mask(features, batch_seed):
            return mask_batch(features, batch_seed, max_predictions_per_seq, masked_lm_prob, vocab_size,
                              mask_token_id, special_ids)

        dataset = tf.data.Dataset.zip((dataset, seeds)).map(mask, num_parallel_calls=tf.data.AUTOTUNE,
                                                            deterministic=True)
    options = tf.data.Options()
    options.deterministic = True
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)


def _parse_batch(records, spec):
    parsed = tf.io.parse_example(records, spec)
    return {name: tf.cast(value, tf.int32) if name in INT_FEATURES else value for name, value in parsed.items()}


def mask_batch(features, seed, max_predictions_per_seq, masked_lm_prob, vocab_size, mask_token_id,
               special_token_ids):
    """Masks a parsed batch with Google's rule; replaces the masked_lm_* features.

    Args:
        features: dict with int32 `input_ids`, `input_mask` [batch, S].
        seed: int [2], the stateless random seed of this batch.
        max_predictions_per_seq: P.
        masked_lm_prob: fraction of tokens to predict.
        vocab_size: random replacements are drawn from [0, vocab_size).
        mask_token_id: id of [MASK].
        special_token_ids: int32 [k], ids never masked.

    Returns:
        a new dict: `input_ids` masked; `masked_lm_positions` (ascending),
        `masked_lm_ids` (original ids) int32 [batch, P]; `masked_lm_weights` float32
        [batch, P] (1.0 on predictions, zero padding); the other features unchanged.
    """
    input_ids = features["input_ids"]  # [batch, S]
    input_mask = features["input_mask"]
    shape = tf.shape(input_ids)
    seq_length = shape[1]
    key_seed, action_seed, keep_seed, id_seed = tf.unstack(
        tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=4)
    )
    is_special = tf.reduce_any(input_ids[:, :, None] == special_token_ids[None, None, :], axis=-1)
    candidates = (input_mask > 0) & ~is_special  # [batch, S]
    length = tf.reduce_sum(input_mask, axis=1)
    num_to_predict = tf.cast(tf.round(tf.cast(length, tf.float64) * masked_lm_prob), tf.int32)
    num_to_predict = tf.minimum(max_predictions_per_seq, tf.maximum(1, num_to_predict))
    num_to_predict = tf.minimum(num_to_predict, tf.reduce_sum(tf.cast(candidates, tf.int32), axis=1))

    # A uniformly random subset: the num_to_predict candidates with the smallest keys.
    keys = tf.where(candidates, tf.random.stateless_uniform(shape, key_seed), 2.0)
    rank = tf.argsort(tf.argsort(keys, axis=1), axis=1)  # [batch, S]
    selected = rank < num_to_predict[:, None]

    position = tf.broadcast_to(tf.range(seq_length)[None, :], shape)
    ascending = tf.sort(tf.where(selected, position, seq_length + position), axis=1)[:, :max_predictions_per_seq]
    is_prediction = ascending < seq_length  # [batch, P]
    masked_lm_positions = tf.where(is_prediction, ascending, 0)
    masked_lm_ids = tf.where(is_prediction, tf.gather(input_ids, masked_lm_positions, batch_dims=1), 0)

    action = tf.random.stateless_uniform(shape, action_seed)
    keep = tf.random.stateless_uniform(shape, keep_seed)
    random_ids = tf.random.stateless_uniform(shape, id_seed, minval=0, maxval=vocab_size, dtype=tf.int32)
    replacement = tf.where(action < 0.8, mask_token_id, tf.where(keep < 0.5, input_ids, random_ids))
    masked = dict(features)
    masked["input_ids"] = tf.where(selected, replacement, input_ids)
    masked["masked_lm_positions"] = masked_lm_positions
    masked["masked_lm_ids"] = masked_lm_ids
    masked["masked_lm_weights"] = tf.cast(is_prediction, tf.float32)
    return masked
