"""tf.data training input from in-memory arrays: shuffled, repeated batches for each replica.

Row numbers are shuffled (a new order every epoch, the same orders in every run with the
same seed) and batched; each batch then gathers its rows from the arrays. So the shuffle
buffer holds numbers, not rows, and resuming skips batches of numbers only.

Example:
    >>> dataset = make_train_dataset(replicas, {"input_ids": ids, "labels": labels}, per_replica_batch=32,
    ...                              skip_batches=0, seed=12345)
    >>> batch = next(iter(dataset))   # per replica: input_ids [32, max_seq_length], labels [32]
"""

import tensorflow as tf


def make_train_dataset(replicas, columns, per_replica_batch, skip_batches, seed):
    """The replicas' distributed dataset of batches of `columns`, after `skip_batches` batches (resume).

    Args:
        replicas: `distribution.create_replicas()`'s object.
        columns: {name: numpy array [num_rows, ...]}, every array with the same first dimension.
        per_replica_batch: rows per replica per update (micro-batch x accumulation steps).
        skip_batches: batches each replica's pipeline skips: the updates already done.
        seed: of the shuffle.
    """
    num_rows = len(next(iter(columns.values())))
    with tf.device("/cpu:0"):
        tensors = {name: tf.constant(value) for name, value in columns.items()}

    def dataset_fn(input_context):
        rows = tf.data.Dataset.range(num_rows)
        if input_context.num_input_pipelines > 1:
            rows = rows.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        rows = rows.shuffle(num_rows, seed=seed, reshuffle_each_iteration=True).repeat()
        rows = rows.batch(per_replica_batch, drop_remainder=True).skip(skip_batches)
        batches = rows.map(lambda batch_rows: {name: tf.gather(column, batch_rows) for name, column in tensors.items()},
                           num_parallel_calls=tf.data.AUTOTUNE)
        return batches.prefetch(tf.data.AUTOTUNE)

    return replicas.distribute_datasets_from_function(dataset_fn)
