"""Task losses, normalised over the whole global batch.

Each task has two parts. `normalizers(batch)` returns this replica's share of the sums
that normalise the loss (for example the number of real masked tokens); the training step
all-reduces them over replicas and micro-batches first. `losses(batch, outputs, totals)`
then returns this micro-batch's share of each loss, so that summing the shares over all
micro-batches and replicas gives the loss of the global batch, exactly as if it had been
one batch on one device.

Evaluation sums the same per-batch losses (`pretraining_loss_sums`) and normalisers over
all its batches instead.

Example:
    >>> totals = PRETRAINING.normalizers(batch)           # one replica, one micro-batch
    >>> PRETRAINING.losses(batch, model(batch), totals)["loss"]
"""

import collections

import tensorflow as tf

Task = collections.namedtuple("Task", ["normalizers", "losses", "loss_names"])


def _cross_entropy(labels, logits):
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(labels, tf.int32), logits=logits)


def _pretraining_normalizers(batch):
    return {"masked_tokens": tf.reduce_sum(tf.cast(batch["masked_lm_weights"], tf.float32)),
            "sequences": tf.cast(tf.shape(batch["input_ids"])[0], tf.float32)}


def pretraining_loss_sums(batch, outputs):
    """The batch's summed cross-entropies, float32 scalars (nats), before any normalisation.

    Returns:
        {"masked_lm_loss": sum over masked positions weighted by `masked_lm_weights`,
         "next_sentence_loss": sum over sequences}; divide by `PRETRAINING.normalizers`'
        "masked_tokens" and "sequences" for the means.
    """
    weights = tf.cast(batch["masked_lm_weights"], tf.float32)
    token_losses = _cross_entropy(batch["masked_lm_ids"], outputs["masked_lm_logits"])
    return {"masked_lm_loss": tf.reduce_sum(token_losses * weights),
            "next_sentence_loss": tf.reduce_sum(_cross_entropy(tf.reshape(batch["next_sentence_labels"], [-1]),
                                                               outputs["next_sentence_logits"]))}


def _pretraining_losses(batch, outputs, totals):
    """Masked-LM cross-entropy weighted by `masked_lm_weights`, plus next-sentence cross-entropy."""
    sums = pretraining_loss_sums(batch, outputs)
    masked_lm = sums["masked_lm_loss"] / (totals["masked_tokens"] + 1e-5)
    next_sentence = sums["next_sentence_loss"] / totals["sequences"]
    return {"loss": masked_lm + next_sentence, "masked_lm_loss": masked_lm, "next_sentence_loss": next_sentence}


def _squad_losses(batch, outputs, totals):
    """Mean of the start-position and end-position cross-entropies (Google's run_squad)."""
    start = tf.reduce_sum(_cross_entropy(batch["start_positions"], outputs["start_logits"])) / totals["sequences"]
    end = tf.reduce_sum(_cross_entropy(batch["end_positions"], outputs["end_logits"])) / totals["sequences"]
    return {"loss": (start + end) / 2.0, "start_loss": start, "end_loss": end}


def _sequence_normalizers(batch):
    return {"sequences": tf.cast(tf.shape(batch["input_ids"])[0], tf.float32)}


def _classification_losses(batch, outputs, totals):
    """Cross-entropy of `label_ids` [B] against `logits` [B, num_labels], averaged over sequences."""
    loss = tf.reduce_sum(_cross_entropy(batch["label_ids"], outputs["logits"])) / totals["sequences"]
    return {"loss": loss}


def _regression_losses(batch, outputs, totals):
    """Squared error of float32 `label_ids` [B] against `logits` [B, 1], averaged over sequences."""
    errors = tf.square(tf.squeeze(outputs["logits"], -1) - tf.cast(batch["label_ids"], tf.float32))
    return {"loss": tf.reduce_sum(errors) / totals["sequences"]}


def _tagging_normalizers(batch):
    return {"tagged_tokens": tf.reduce_sum(tf.cast(batch["label_ids"] >= 0, tf.float32))}


def _tagging_losses(batch, outputs, totals):
    """Cross-entropy over the tokens whose `label_ids` [B, S] is >= 0 (first pieces), averaged over them."""
    labels = batch["label_ids"]
    token_losses = _cross_entropy(tf.maximum(labels, 0), outputs["logits"])
    loss = tf.reduce_sum(token_losses * tf.cast(labels >= 0, tf.float32)) / tf.maximum(totals["tagged_tokens"], 1.0)
    return {"loss": loss}


PRETRAINING = Task(_pretraining_normalizers, _pretraining_losses, ("loss", "masked_lm_loss", "next_sentence_loss"))
SQUAD = Task(_sequence_normalizers, _squad_losses, ("loss", "start_loss", "end_loss"))
CLASSIFICATION = Task(_sequence_normalizers, _classification_losses, ("loss",))
REGRESSION = Task(_sequence_normalizers, _regression_losses, ("loss",))
TAGGING = Task(_tagging_normalizers, _tagging_losses, ("loss",))
