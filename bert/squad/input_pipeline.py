"""tf.data input of SQuAD fine-tuning: shuffled, repeated batches of training windows for each replica.

The window numbers are shuffled (a new order every epoch, the same orders in every run
with the same seed) and batched; each batch then gathers its windows' arrays. So the
shuffle buffer holds numbers, not windows, and resuming skips batches of numbers only.

Example:
    >>> dataset = make_train_dataset(replicas, features, per_replica_batch=8, skip_batches=0, seed=12345)
    >>> batch = next(iter(dataset))   # per replica: int32 input_ids [8, max_seq_length], ..., start_positions [8]
"""

import tensorflow as tf

from bert.squad.features import INPUT_NAMES

TRAIN_NAMES = INPUT_NAMES + ("start_positions", "end_positions")


def make_train_dataset(replicas, features, per_replica_batch, skip_batches, seed):
    """The replicas' distributed dataset of `TRAIN_NAMES` batches, after `skip_batches` batches (resume).

    Args:
        replicas: `distribution.create_replicas()`'s object.
        features: the training `SquadFeatures`.
        per_replica_batch: windows per replica per update (micro-batch x accumulation steps).
        skip_batches: batches each replica's pipeline skips: the updates already done.
        seed: of the shuffle.
    """
    with tf.device("/cpu:0"):
        columns = {name: tf.constant(value) for name, value in features.arrays().items() if name in TRAIN_NAMES}

    def dataset_fn(input_context):
        rows = tf.data.Dataset.range(len(features))
        if input_context.num_input_pipelines > 1:
            rows = rows.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        rows = rows.shuffle(len(features), seed=seed, reshuffle_each_iteration=True).repeat()
        rows = rows.batch(per_replica_batch, drop_remainder=True).skip(skip_batches)
        batches = rows.map(lambda batch_rows: {name: tf.gather(column, batch_rows) for name, column in columns.items()},
                           num_parallel_calls=tf.data.AUTOTUNE)
        return batches.prefetch(tf.data.AUTOTUNE)

    return replicas.distribute_datasets_from_function(dataset_fn)
