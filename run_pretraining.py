"""BERT pretraining (masked LM + next sentence) with NVIDIA's flags.

Phase 1 and phase 2 are two runs of this script (see scripts/run_pretraining.sh).
Rerunning with the same --output_dir resumes from its newest checkpoint exactly;
--init_checkpoint loads weights only (phase 2 from phase 1, or a Google/HF checkpoint).

    python run_pretraining.py --bert_config_file=configs/bert_config_base.json \
        --input_files_dir=data/tfrecord/seq_128_pred_20 --output_dir=results/phase1 \
        --do_train --train_batch_size=64 --num_accumulation_steps=8 --learning_rate=6e-3 \
        --num_train_steps=7038 --num_warmup_steps=2000 --amp --use_xla

With --horovod, start one process per GPU with `horovodrun -np <gpus> python run_pretraining.py
... --horovod` (Horovod from scripts/install_horovod.sh); otherwise tf.distribute spans the
GPUs and the workers (bert/train/distribution.py).
"""

import json
import os

import numpy as np
import tensorflow as tf
from absl import app, flags

from bert import checkpoints, export, flops, modeling
from bert import flags as cli_flags
from bert.errors import InputError, run_main
from bert.files import files_in, make_writable_dir, write_text_atomically
from bert.pretraining import input_pipeline as pretraining_input
from bert.train import losses, precision, setup

flags.DEFINE_string("bert_config_file", None, "BERT config JSON.")
flags.DEFINE_string("init_checkpoint", None, "Initial weights (any form bert/checkpoints.py reads); ignored when resuming.")
flags.DEFINE_string("input_files_dir", None, "Folder (or glob) of training TFRecord shards.")
flags.DEFINE_integer("max_seq_length", 128, "Sequence length of the shards.")
flags.DEFINE_integer("max_predictions_per_seq", 20, "Masked positions per sequence in the shards.")
flags.DEFINE_bool("dynamic_masking", False, "Mask on the fly, anew every epoch (for shards written with --no_masking).")
flags.DEFINE_string("vocab_file", None, "Vocab: needed with --dynamic_masking (random replacement tokens); "
                    "given, it is copied next to the exported model.")
flags.DEFINE_integer("shuffle_buffer", 10000, "Examples in the input shuffle buffer.")
flags.DEFINE_integer("num_train_steps", 100000, "Updates (each of train_batch_size x accumulation x replicas).")
flags.DEFINE_integer("num_warmup_steps", 10000, "Updates of linear warmup.")
flags.DEFINE_float("decay_power", 1.0, "Polynomial decay power after warmup (NVIDIA's LAMB recipe: 0.5).")
flags.DEFINE_integer("keep_checkpoints", 3, "How many of the newest checkpoints to keep.")
flags.DEFINE_string("profile_steps", "", "'start,stop' updates between which a TensorBoard profiler trace is written.")
flags.DEFINE_bool("quick_check", False, "Smoke test: 5 updates, 2 evaluation batches, small shuffle buffer.")
flags.DEFINE_bool("do_eval", False, "Evaluate on --eval_files_dir.")
flags.DEFINE_string("eval_files_dir", None, "Folder (or glob) of evaluation TFRecord shards.")
flags.DEFINE_integer("eval_batch_size", 8, "Sequences per evaluation batch.")
flags.DEFINE_integer("max_eval_steps", 100, "Evaluation batches.")
flags.DEFINE_bool("eval_random_init", False, "With --do_eval alone: evaluate the seeded random initialisation "
                  "(a baseline) instead of a checkpoint.")
cli_flags.define_training_flags(train_batch_size=32, optimizer_type="lamb", help_texts={
    "output_dir": "Checkpoints, logs, exported model.",
    "do_train": "Train.",
    "train_batch_size": "Sequences per replica per micro-batch.",
    "learning_rate": "Peak learning rate, used as given (never scaled by the worker count).",
    "optimizer_type": "LAMB, or AdamW as in Google's BERT.",
    "save_checkpoints_steps": "Updates between checkpoints.",
    "dllog_path": "JSON-lines log (default <output_dir>/pretraining_log.jsonl).",
})
cli_flags.define_precision_flags()
FLAGS = flags.FLAGS


def build_model(config):
    """A built `BertForPreTraining` for the shards' lengths; call it under the replicas' strategy."""
    return modeling.build_model(modeling.BertForPreTraining(config), FLAGS.max_seq_length,
                                FLAGS.max_predictions_per_seq)


def make_distributed_dataset(replicas, files, per_replica_batch, skip_batches):
    """The training input, each replica's pipeline advanced past `skip_batches` batches (resume)."""
    masking = {}
    if FLAGS.dynamic_masking:
        cli_flags.require(vocab_file=FLAGS.vocab_file)
        masking = pretraining_input.dynamic_masking_ids(FLAGS.vocab_file)

    def dataset_fn(input_context):
        dataset = pretraining_input.make_pretraining_dataset(
            files, per_replica_batch * replicas.num_replicas, FLAGS.max_seq_length,
            FLAGS.max_predictions_per_seq, is_training=True, input_context=input_context, seed=FLAGS.seed,
            shuffle_buffer=FLAGS.shuffle_buffer, dynamic_masking=FLAGS.dynamic_masking, **masking)
        return dataset.skip(skip_batches) if skip_batches else dataset

    return replicas.distribute_datasets_from_function(dataset_fn)


def train(replicas, config, jit_compile):
    """Trains (or resumes training) a `BertForPreTraining` for --num_train_steps updates; returns it."""
    files = files_in(FLAGS.input_files_dir, "input_files_dir")
    per_replica_batch, global_batch = setup.batch_sizes(FLAGS, replicas)
    print(f"{setup.describe_global_batch(FLAGS, replicas, 'sequences')}; learning rate {FLAGS.learning_rate} "
          "(as given, not scaled by the worker count).", flush=True)
    run = setup.build_training(replicas, FLAGS, lambda: build_model(config), FLAGS.num_train_steps,
                               FLAGS.num_warmup_steps, {"decay_power": FLAGS.decay_power},
                               keep_checkpoints=FLAGS.keep_checkpoints)
    dataset = make_distributed_dataset(replicas, files, per_replica_batch, int(run.step.numpy()))
    last = run.train(
        losses.PRETRAINING, dataset, jit_compile, FLAGS.num_train_steps, global_batch,
        setup.dllog_path(FLAGS, "pretraining_log.jsonl"),
        flops_per_sequence=flops.training_flops_per_sequence(config, FLAGS.max_seq_length,
                                                             FLAGS.max_predictions_per_seq),
        peak_flops=flops.measure_matmul_peak(tf.dtypes.as_dtype(precision.compute_dtype())) * replicas.num_replicas,
        profile_steps=tuple(int(x) for x in FLAGS.profile_steps.split(",")) if FLAGS.profile_steps else ())
    if replicas.is_chief:
        export.export_google_model(run.model, config, FLAGS.output_dir, vocab_file=FLAGS.vocab_file)
        print(f"Finished at step {int(run.step.numpy())}: {json.dumps(last)}\n"
              f"Checkpoints in {FLAGS.output_dir}; Google-named model in {FLAGS.output_dir}/model.ckpt", flush=True)
    return run.model


def evaluate(strategy, config, model, chief):
    """Masked-LM and next-sentence accuracy and loss over --max_eval_steps batches."""
    files = files_in(FLAGS.eval_files_dir, "eval_files_dir")
    if model is None:
        with strategy.scope():
            model = build_model(config)
        if FLAGS.eval_random_init:
            print(f"Evaluating the random initialisation (--seed={FLAGS.seed}).", flush=True)
        else:
            source = checkpoints.latest_checkpoint(FLAGS.output_dir) or FLAGS.init_checkpoint
            cli_flags.require(init_checkpoint=source)
            print(checkpoints.load_weights(model, source).summary(), flush=True)
    masking = pretraining_input.dynamic_masking_ids(FLAGS.vocab_file) if FLAGS.dynamic_masking else {}
    dataset = pretraining_input.make_pretraining_dataset(
        files, FLAGS.eval_batch_size, FLAGS.max_seq_length, FLAGS.max_predictions_per_seq, is_training=False,
        seed=FLAGS.seed, dynamic_masking=FLAGS.dynamic_masking, **masking)

    @tf.function
    def eval_step(batch):
        """Sums over the batch: masked-LM loss, correct and weight; next-sentence loss, correct and count."""
        outputs = model(batch, training=False)
        loss_sums = losses.pretraining_loss_sums(batch, outputs)
        counts = losses.PRETRAINING.normalizers(batch)
        weights = batch["masked_lm_weights"]
        correct = tf.cast(tf.equal(tf.argmax(outputs["masked_lm_logits"], -1, tf.int32), batch["masked_lm_ids"]),
                          tf.float32)
        labels = tf.reshape(batch["next_sentence_labels"], [-1])
        nsp_correct = tf.cast(tf.equal(tf.argmax(outputs["next_sentence_logits"], -1, tf.int32), labels), tf.float32)
        return tf.stack([loss_sums["masked_lm_loss"], tf.reduce_sum(correct * weights), counts["masked_tokens"],
                         loss_sums["next_sentence_loss"], tf.reduce_sum(nsp_correct), counts["sequences"]])

    totals = np.zeros(6)
    for batch in dataset.take(FLAGS.max_eval_steps):
        totals += eval_step(batch).numpy()
    results = {"masked_lm_loss": totals[0] / totals[2], "masked_lm_accuracy": totals[1] / totals[2],
               "next_sentence_loss": totals[3] / totals[5], "next_sentence_accuracy": totals[4] / totals[5],
               "eval_sequences": int(totals[5])}
    print("Evaluation: " + json.dumps(results), flush=True)
    if chief:
        write_text_atomically(os.path.join(FLAGS.output_dir, "eval_results.json"), json.dumps(results, indent=2) + "\n")
    return results


def main(argv):
    del argv
    if FLAGS.quick_check:
        FLAGS.num_train_steps, FLAGS.max_eval_steps, FLAGS.shuffle_buffer = 5, 2, 100
        FLAGS.display_loss_steps = 1
    if not (FLAGS.do_train or FLAGS.do_eval):
        raise InputError("nothing to do: pass --do_train and/or --do_eval")
    if FLAGS.eval_random_init and (FLAGS.do_train or FLAGS.init_checkpoint or not FLAGS.do_eval):
        raise InputError("--eval_random_init: only with --do_eval, without --do_train and --init_checkpoint")
    cli_flags.require(output_dir=FLAGS.output_dir, bert_config_file=FLAGS.bert_config_file)
    cli_flags.require_at_least_one(FLAGS, "train_batch_size", "eval_batch_size", "num_accumulation_steps",
                                   "save_checkpoints_steps", "display_loss_steps", "max_seq_length",
                                   "max_predictions_per_seq")
    replicas, xla = setup.start(FLAGS)
    config = modeling.BertConfig.from_json_file(FLAGS.bert_config_file)
    if FLAGS.max_seq_length > config.max_position_embeddings:
        raise InputError(f"--max_seq_length: {FLAGS.max_seq_length} exceeds max_position_embeddings "
                         f"({config.max_position_embeddings}) of {FLAGS.bert_config_file}")
    if FLAGS.max_predictions_per_seq > FLAGS.max_seq_length:
        raise InputError("--max_predictions_per_seq: must not exceed --max_seq_length")
    if replicas.is_chief:
        make_writable_dir(FLAGS.output_dir)
    model = train(replicas, config, xla.training) if FLAGS.do_train else None
    if FLAGS.do_eval:
        evaluate(replicas.strategy, config, model, replicas.is_chief)


if __name__ == "__main__":
    app.run(lambda argv: run_main(main, argv))
