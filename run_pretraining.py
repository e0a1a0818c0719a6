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

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

from bert import checkpoints
from bert import flags as cli_flags
from bert.train import distribution
from bert import flops
from bert.train import losses
from bert import modeling
from bert.train import optimization
from bert.train import precision
from bert.pretraining import input_pipeline as pretraining_input
from bert.train import state as train_state
from bert.train import training
from bert.errors import InputError, run_main
from bert.files import files_in, make_writable_dir, write_text_atomically

flags.DEFINE_string("bert_config_file", None, "BERT config JSON.")
flags.DEFINE_string("init_checkpoint", None, "Initial weights (any form bert/checkpoints.py reads); ignored when resuming.")
flags.DEFINE_string("input_files_dir", None, "Folder (or glob) of training TFRecord shards.")
flags.DEFINE_string("eval_files_dir", None, "Folder (or glob) of evaluation TFRecord shards.")
flags.DEFINE_string("output_dir", None, "Checkpoints, logs, exported model.")
flags.DEFINE_enum("optimizer_type", "lamb", ["lamb", "adam"], "LAMB, or AdamW as in Google's BERT.")
flags.DEFINE_integer("max_seq_length", 128, "Sequence length of the shards.")
flags.DEFINE_integer("max_predictions_per_seq", 20, "Masked positions per sequence in the shards.")
flags.DEFINE_bool("do_train", False, "Train.")
flags.DEFINE_bool("do_eval", False, "Evaluate on --eval_files_dir.")
flags.DEFINE_integer("train_batch_size", 32, "Sequences per replica per micro-batch.")
flags.DEFINE_integer("eval_batch_size", 8, "Sequences per evaluation batch.")
flags.DEFINE_float("learning_rate", 5e-5, "Peak learning rate, used as given (never scaled by the worker count).")
flags.DEFINE_integer("num_train_steps", 100000, "Updates (each of train_batch_size x accumulation x replicas).")
flags.DEFINE_integer("num_warmup_steps", 10000, "Updates of linear warmup.")
flags.DEFINE_float("decay_power", 1.0, "Polynomial decay power after warmup (NVIDIA's LAMB recipe: 0.5).")
flags.DEFINE_integer("save_checkpoints_steps", 1000, "Updates between checkpoints.")
flags.DEFINE_integer("keep_checkpoints", 3, "How many of the newest checkpoints to keep.")
flags.DEFINE_integer("display_loss_steps", 10, "Updates between log lines.")
flags.DEFINE_integer("num_accumulation_steps", 1, "Micro-batches per update.")
flags.DEFINE_integer("max_eval_steps", 100, "Evaluation batches.")
flags.DEFINE_bool("eval_random_init", False, "With --do_eval alone: evaluate the seeded random initialisation "
                  "(a baseline) instead of a checkpoint.")
flags.DEFINE_string("dllog_path", None, "JSON-lines log (default <output_dir>/pretraining_log.jsonl).")
flags.DEFINE_bool("dynamic_masking", False, "Mask on the fly, anew every epoch (for shards written with --no_masking).")
flags.DEFINE_integer("seed", 12345, "Seed of weight initialisation, dropout and input order.")
flags.DEFINE_integer("shuffle_buffer", 10000, "Examples in the input shuffle buffer.")
flags.DEFINE_string("profile_steps", "", "'start,stop' updates between which a TensorBoard profiler trace is written.")
flags.DEFINE_bool("quick_check", False, "Smoke test: 5 updates, 2 evaluation batches, small shuffle buffer.")
flags.DEFINE_string("vocab_file", None, "Vocab, needed only with --dynamic_masking (random replacement tokens).")
flags.DEFINE_bool("horovod", False, "All-reduce with Horovod across the processes horovodrun starts (one per GPU) "
                  "instead of tf.distribute.")
cli_flags.define_precision_flags()
FLAGS = flags.FLAGS


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
    files = files_in(FLAGS.input_files_dir, "input_files_dir")
    strategy, chief = replicas.strategy, replicas.is_chief
    global_batch = FLAGS.train_batch_size * FLAGS.num_accumulation_steps * replicas.num_replicas
    print(f"Global batch size: {global_batch} sequences = {FLAGS.train_batch_size} per micro-batch x "
          f"{FLAGS.num_accumulation_steps} accumulation steps x {replicas.num_replicas} replicas; "
          f"learning rate {FLAGS.learning_rate} (as given, not scaled by the worker count).", flush=True)
    amp_fp16 = FLAGS.amp and FLAGS.amp_dtype == "float16"
    with strategy.scope():
        model = modeling.build_model(modeling.BertForPreTraining(config), FLAGS.max_seq_length,
                                     FLAGS.max_predictions_per_seq)
        optimizer = optimization.create_optimizer(
            FLAGS.optimizer_type, FLAGS.learning_rate, FLAGS.num_train_steps, FLAGS.num_warmup_steps,
            FLAGS.decay_power, loss_scaling=amp_fp16)
        optimizer.build(model.trainable_variables)
        step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        skipped = tf.Variable(0, dtype=tf.int64, trainable=False, name="skipped_steps")
    state = train_state.TrainState(FLAGS.output_dir, model, optimizer, {"step": step, "skipped_steps": skipped},
                                   keep=FLAGS.keep_checkpoints)
    resumed_step = state.restore_latest()
    if resumed_step is not None:
        print(f"Resuming from {checkpoints.latest_checkpoint(FLAGS.output_dir)} at step {resumed_step}.", flush=True)
    elif FLAGS.init_checkpoint:
        print(checkpoints.load_weights(model, FLAGS.init_checkpoint).summary(), flush=True)
    replicas.broadcast_from_chief(model.variables + optimizer.variables + [step, skipped])
    per_replica_batch = FLAGS.train_batch_size * FLAGS.num_accumulation_steps
    dataset = make_distributed_dataset(replicas, files, per_replica_batch, int(step.numpy()))
    train_step = training.make_train_step(replicas, model, optimizer, losses.PRETRAINING,
                                          FLAGS.num_accumulation_steps, jit_compile)
    profile = tuple(int(x) for x in FLAGS.profile_steps.split(",")) if FLAGS.profile_steps else ()
    loop_config = training.LoopConfig(
        num_train_steps=FLAGS.num_train_steps, save_checkpoints_steps=FLAGS.save_checkpoints_steps,
        display_loss_steps=FLAGS.display_loss_steps, global_batch_size=global_batch,
        flops_per_sequence=flops.training_flops_per_sequence(config, FLAGS.max_seq_length,
                                                             FLAGS.max_predictions_per_seq),
        peak_flops=flops.measure_matmul_peak(tf.dtypes.as_dtype(precision.compute_dtype())) * replicas.num_replicas,
        dllog_path=FLAGS.dllog_path or os.path.join(FLAGS.output_dir, "pretraining_log.jsonl"),
        tensorboard_dir=os.path.join(FLAGS.output_dir, "tensorboard"), profile_steps=profile, is_chief=chief)
    last = training.run_training(train_step, iter(dataset), optimizer, state, step, skipped, loop_config)
    if chief:
        checkpoints.export_google_checkpoint(model, os.path.join(FLAGS.output_dir, "model.ckpt"))
        config.to_json_file(os.path.join(FLAGS.output_dir, "bert_config.json"))
        print(f"Finished at step {int(step.numpy())}: {json.dumps(last)}\n"
              f"Checkpoints in {FLAGS.output_dir}; Google-named model in {FLAGS.output_dir}/model.ckpt", flush=True)
    return model


def evaluate(strategy, config, model, chief):
    """Masked-LM and next-sentence accuracy and loss over --max_eval_steps batches."""
    files = files_in(FLAGS.eval_files_dir, "eval_files_dir")
    if model is None:
        with strategy.scope():
            model = modeling.build_model(modeling.BertForPreTraining(config), FLAGS.max_seq_length,
                                         FLAGS.max_predictions_per_seq)
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
        outputs = model(batch, training=False)
        weights = batch["masked_lm_weights"]
        token_loss = tf.nn.sparse_softmax_cross_entropy_with_logits(batch["masked_lm_ids"],
                                                                    outputs["masked_lm_logits"])
        correct = tf.cast(tf.equal(tf.argmax(outputs["masked_lm_logits"], -1, tf.int32), batch["masked_lm_ids"]),
                          tf.float32)
        labels = tf.reshape(batch["next_sentence_labels"], [-1])
        nsp_loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, outputs["next_sentence_logits"])
        nsp_correct = tf.cast(tf.equal(tf.argmax(outputs["next_sentence_logits"], -1, tf.int32), labels), tf.float32)
        return tf.stack([tf.reduce_sum(token_loss * weights), tf.reduce_sum(correct * weights),
                         tf.reduce_sum(weights), tf.reduce_sum(nsp_loss), tf.reduce_sum(nsp_correct),
                         tf.cast(tf.size(labels), tf.float32)])

    totals = np.zeros(6)
    for batch in dataset.take(FLAGS.max_eval_steps):
        totals += eval_step(batch).numpy()
    results = {"masked_lm_loss": totals[0] / totals[2], "masked_lm_accuracy": totals[1] / totals[2],
               "next_sentence_loss": totals[3] / totals[5], "next_sentence_accuracy": totals[4] / totals[5],
               "eval_sequences": int(totals[5])}
    print("Evaluation: " + json.dumps(results), flush=True)
    if chief:
        write_text_atomically(os.path.join(FLAGS.output_dir, "eval_results.json"),
                                       json.dumps(results, indent=2) + "\n")
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
    for name in ("train_batch_size", "eval_batch_size", "num_accumulation_steps", "save_checkpoints_steps",
                 "display_loss_steps", "max_seq_length", "max_predictions_per_seq"):
        if getattr(FLAGS, name) < 1:
            raise InputError(f"--{name}: must be at least 1, got {getattr(FLAGS, name)}")
    replicas = distribution.create_replicas(horovod=FLAGS.horovod)
    keras.utils.set_random_seed(FLAGS.seed)
    jit_compile = precision.configure(FLAGS.amp, FLAGS.amp_dtype, FLAGS.use_xla)
    config = modeling.BertConfig.from_json_file(FLAGS.bert_config_file)
    if FLAGS.max_seq_length > config.max_position_embeddings:
        raise InputError(f"--max_seq_length: {FLAGS.max_seq_length} exceeds max_position_embeddings "
                         f"({config.max_position_embeddings}) of {FLAGS.bert_config_file}")
    if FLAGS.max_predictions_per_seq > FLAGS.max_seq_length:
        raise InputError("--max_predictions_per_seq: must not exceed --max_seq_length")
    if replicas.is_chief:
        make_writable_dir(FLAGS.output_dir)
    model = train(replicas, config, jit_compile) if FLAGS.do_train else None
    if FLAGS.do_eval:
        evaluate(replicas.strategy, config, model, replicas.is_chief)


if __name__ == "__main__":
    app.run(lambda argv: run_main(main, argv))
