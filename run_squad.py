"""SQuAD v1.1 / v2.0 fine-tuning and prediction with NVIDIA's flags.

    SQuAD JSON -> squad.py windows -> tf.data -> training.py step -> checkpoints
    SQuAD JSON -> squad.py windows -> batched forward -> squad.py answers -> predictions.json
                                                                          -> squad_metrics EM / F1

Training runs the shared step and loop (`training.py`); its state lives in --output_dir,
so rerunning the same command resumes exactly where it stopped. At the end the model is
also written under Google's names (`<output_dir>/model.ckpt`, with `bert_config.json` and
`vocab.txt`), ready for `--init_checkpoint`. Prediction writes Google's predictions.json,
nbest_predictions.json and (v2) null_odds.json into --output_dir and, when the predict
file holds gold answers, the official EM and F1 (`eval_results.json`).

    python run_squad.py --vocab_file=vocab.txt --bert_config_file=bert_config.json \
        --init_checkpoint=bert_model.ckpt --do_train --train_file=train-v1.1.json \
        --do_predict --predict_file=dev-v1.1.json --train_batch_size=8 \
        --learning_rate=3e-5 --num_train_epochs=2 --output_dir=results/squad --amp --use_xla
"""

import json
import os
import shutil
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags, logging

from bert import checkpoints
from bert import flags as cli_flags
from bert.train import distribution
from bert.train import losses
from bert import modeling
from bert.train import optimization
from bert.train import precision
from bert.squad import processing as squad
from bert.squad import metrics as squad_metrics
from bert.text import tokenization
from bert.train import state as train_state
from bert.train import training
from bert.errors import InputError, run_main
from bert.files import make_writable_dir, write_text_atomically

cli_flags.define_model_flags(max_seq_length=384)
cli_flags.define_precision_flags()
flags.DEFINE_string("output_dir", None, "Training state, exported model, predictions and evaluation results.")
flags.DEFINE_string("train_file", None, "SQuAD JSON for training, e.g. train-v1.1.json.")
flags.DEFINE_string("predict_file", None, "SQuAD JSON to predict, e.g. dev-v1.1.json; scored if it has answers.")
flags.DEFINE_integer("doc_stride", 128, "Tokens between the starts of consecutive document windows.")
flags.DEFINE_integer("max_query_length", 64, "Question tokens kept; longer questions are truncated.")
flags.DEFINE_bool("do_train", False, "Fine-tune on --train_file.")
flags.DEFINE_bool("do_predict", False, "Predict answers for --predict_file.")
flags.DEFINE_integer("train_batch_size", 8, "Windows per replica per micro-batch.")
flags.DEFINE_integer("predict_batch_size", 8, "Windows per prediction batch.")
flags.DEFINE_float("learning_rate", 5e-5, "Peak learning rate, used as given (never scaled by the replica count).")
flags.DEFINE_float("num_train_epochs", 3.0, "Passes over the training windows.")
flags.DEFINE_float("warmup_proportion", 0.1, "Fraction of the updates spent in linear warmup.")
flags.DEFINE_bool("decay_after_warmup", True,
                  "After warmup, decay linearly from --learning_rate to 0 over the remaining updates (transformers' "
                  "and NVIDIA's PyTorch schedule). --nodecay_after_warmup: Google's TF1 schedule, "
                  "learning_rate * (1 - step / steps), which starts decaying from (1 - warmup_proportion) x the peak.")
flags.DEFINE_integer("save_checkpoints_steps", 1000, "Updates between training checkpoints.")
flags.DEFINE_integer("display_loss_steps", 10, "Updates between log lines.")
flags.DEFINE_integer("num_accumulation_steps", 1, "Micro-batches per update.")
flags.DEFINE_integer("n_best_size", 20, "Candidates kept per question in nbest_predictions.json.")
flags.DEFINE_integer("max_answer_length", 30, "Longest answer, in WordPiece tokens.")
flags.DEFINE_bool("verbose_logging", False, "Log the first windows of each input: tokens, ids and answer positions.")
flags.DEFINE_bool("version_2_with_negative", False, "SQuAD 2.0: questions may have no answer.")
flags.DEFINE_float("null_score_diff_threshold", 0.0,
                   "v2: predict no answer when null score - best span score exceeds this "
                   "(evaluation prints the best value as best_f1_thresh).")
flags.DEFINE_string("dllog_path", None,
                    "JSON-lines log of training and prediction (default <output_dir>/squad_log.jsonl).")
flags.DEFINE_enum("optimizer_type", "adam", ["adam", "lamb"], "AdamW (Google's run_squad) or LAMB.")
flags.DEFINE_string("export_dir", None, "Also write a SavedModel here (signature serving_default: int32 "
                    "input_ids, input_mask, segment_ids [batch, max_seq_length] -> start_logits, end_logits).")
flags.DEFINE_bool("horovod", False, "All-reduce with Horovod across the processes horovodrun starts (one per GPU) "
                  "instead of tf.distribute.")
flags.DEFINE_integer("seed", 12345, "Seed of weight initialisation, dropout and input order.")
FLAGS = flags.FLAGS

INPUT_NAMES = ("input_ids", "input_mask", "segment_ids")
TRAIN_NAMES = INPUT_NAMES + ("start_positions", "end_positions")


def check_flags():
    """Raises InputError for the first missing or impossible flag, before any work is done."""
    if not (FLAGS.do_train or FLAGS.do_predict or FLAGS.export_dir):
        raise InputError("nothing to do: pass --do_train, --do_predict and/or --export_dir")
    cli_flags.require(vocab_file=FLAGS.vocab_file, output_dir=FLAGS.output_dir)
    if FLAGS.do_train:
        cli_flags.require(train_file=FLAGS.train_file)
    else:
        cli_flags.require(init_checkpoint=FLAGS.init_checkpoint)
    if FLAGS.do_predict:
        cli_flags.require(predict_file=FLAGS.predict_file)
    for name in ("max_seq_length", "doc_stride", "max_query_length", "train_batch_size", "predict_batch_size",
                 "save_checkpoints_steps", "display_loss_steps", "num_accumulation_steps", "n_best_size",
                 "max_answer_length"):
        if getattr(FLAGS, name) < 1:
            raise InputError(f"--{name}: must be at least 1, got {getattr(FLAGS, name)}")
    if not FLAGS.num_train_epochs > 0:
        raise InputError(f"--num_train_epochs: must be positive, got {FLAGS.num_train_epochs}")
    if not 0 <= FLAGS.warmup_proportion <= 1:
        raise InputError(f"--warmup_proportion: must be in [0, 1], got {FLAGS.warmup_proportion}")
    if FLAGS.export_dir and os.path.isdir(FLAGS.export_dir) and os.listdir(FLAGS.export_dir) \
            and not os.path.exists(os.path.join(FLAGS.export_dir, "saved_model.pb")):
        raise InputError(f"--export_dir: {FLAGS.export_dir} holds files that are not a SavedModel; "
                         "give an empty or new folder")


def read_features(path, tokenizer, is_training):
    """SQuAD examples of `path` and their windows (`squad.SquadFeatures`)."""
    examples = squad.read_squad_examples(path, is_training=is_training)
    if not examples:
        raise InputError(f"{path}: the file has no questions")
    features = squad.convert_examples_to_features(
        examples, tokenizer, max_seq_length=FLAGS.max_seq_length, doc_stride=FLAGS.doc_stride,
        max_query_length=FLAGS.max_query_length, is_training=is_training)
    logging.info("%s: %d questions in %d windows of %d tokens", path, len(examples), len(features),
                 FLAGS.max_seq_length)
    if FLAGS.verbose_logging:
        for i in range(min(3, len(features))):
            logging.info("window %d of %s: %s", i, path, features.window(i))
    return examples, features


def read_gold_answers(path):
    """The predict file as a `squad_metrics.Dataset` when its questions carry `answers`, else None."""
    root = squad_metrics.load_json(path)
    questions = [qa for article in root["data"] for paragraph in article["paragraphs"] for qa in paragraph["qas"]]
    if not any("answers" in qa for qa in questions):
        return None
    return squad_metrics.read_dataset(path, require_answers=not FLAGS.version_2_with_negative)


def make_train_dataset(replicas, features, per_replica_batch, skip_batches):
    """Shuffled, repeated batches of training windows for each replica, after `skip_batches` (resume).

    The window numbers are shuffled (a new order every epoch, the same orders in every run
    with the same --seed) and batched; each batch then gathers its windows' arrays. So the
    shuffle buffer holds numbers, not windows, and resuming skips batches of numbers only.
    """
    with tf.device("/cpu:0"):
        columns = {name: tf.constant(value) for name, value in features.arrays().items() if name in TRAIN_NAMES}

    def dataset_fn(input_context):
        rows = tf.data.Dataset.range(len(features))
        if input_context.num_input_pipelines > 1:
            rows = rows.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        rows = rows.shuffle(len(features), seed=FLAGS.seed, reshuffle_each_iteration=True).repeat()
        rows = rows.batch(per_replica_batch, drop_remainder=True).skip(skip_batches)
        batches = rows.map(lambda batch_rows: {name: tf.gather(column, batch_rows) for name, column in columns.items()},
                           num_parallel_calls=tf.data.AUTOTUNE)
        return batches.prefetch(tf.data.AUTOTUNE)

    return replicas.distribute_datasets_from_function(dataset_fn)


def train(replicas, config, features, chief, jit_compile):
    """Fine-tunes (or resumes fine-tuning) a `BertForQuestionAnswering`; returns it."""
    strategy = replicas.strategy
    per_replica_batch = FLAGS.train_batch_size * FLAGS.num_accumulation_steps
    global_batch = per_replica_batch * replicas.num_replicas
    num_train_steps = int(len(features) / global_batch * FLAGS.num_train_epochs)
    if num_train_steps < 1:
        raise InputError(f"--num_train_epochs: {FLAGS.num_train_epochs} epochs of {len(features)} training windows "
                         f"do not fill one global batch of {global_batch}")
    num_warmup_steps = int(num_train_steps * FLAGS.warmup_proportion)
    print(f"Global batch size: {global_batch} windows = {FLAGS.train_batch_size} per micro-batch x "
          f"{FLAGS.num_accumulation_steps} accumulation steps x {replicas.num_replicas} replicas; learning rate "
          f"{FLAGS.learning_rate} (as given, not scaled by the replica count); {num_train_steps} updates "
          f"({len(features)} windows x {FLAGS.num_train_epochs} epochs), {num_warmup_steps} of warmup.", flush=True)
    with strategy.scope():
        model = modeling.build_model(modeling.BertForQuestionAnswering(config), FLAGS.max_seq_length)
        # The span head never reads the pooler, so it gets no gradient; Google's optimizer skipped it too.
        model.bert.pooler.trainable = False
        optimizer = optimization.create_optimizer(
            FLAGS.optimizer_type, FLAGS.learning_rate, num_train_steps, num_warmup_steps,
            loss_scaling=FLAGS.amp and FLAGS.amp_dtype == "float16", decay_after_warmup=FLAGS.decay_after_warmup)
        optimizer.build(model.trainable_variables)
        step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        skipped = tf.Variable(0, dtype=tf.int64, trainable=False, name="skipped_steps")
    state = train_state.TrainState(FLAGS.output_dir, model, optimizer, {"step": step, "skipped_steps": skipped})
    resumed_step = state.restore_latest()
    if resumed_step is not None:
        print(f"Resuming from {checkpoints.latest_checkpoint(FLAGS.output_dir)} at step {resumed_step}.", flush=True)
    elif FLAGS.init_checkpoint:
        print(checkpoints.load_weights(model, FLAGS.init_checkpoint).summary(), flush=True)
    else:
        print("No --init_checkpoint: training from randomly initialised weights.", flush=True)
    replicas.broadcast_from_chief(model.variables + optimizer.variables + [step, skipped])
    dataset = make_train_dataset(replicas, features, per_replica_batch, int(step.numpy()))
    train_step = training.make_train_step(replicas, model, optimizer, losses.SQUAD, FLAGS.num_accumulation_steps,
                                          jit_compile)
    loop_config = training.LoopConfig(
        num_train_steps=num_train_steps, save_checkpoints_steps=FLAGS.save_checkpoints_steps,
        display_loss_steps=FLAGS.display_loss_steps, global_batch_size=global_batch,
        dllog_path=dllog_path(), tensorboard_dir=os.path.join(FLAGS.output_dir, "tensorboard"), is_chief=chief)
    last = training.run_training(train_step, iter(dataset), optimizer, state, step, skipped, loop_config)
    if chief:
        export_google_model(model, config)
        print(f"Finished training at step {int(step.numpy())}: {json.dumps(last)}", flush=True)
    return model


def export_google_model(model, config):
    """`model.ckpt`, `bert_config.json` and `vocab.txt` in --output_dir: a folder like Google's releases."""
    checkpoints.export_google_checkpoint(model, os.path.join(FLAGS.output_dir, "model.ckpt"))
    config.to_json_file(os.path.join(FLAGS.output_dir, "bert_config.json"))
    vocab_copy = os.path.join(FLAGS.output_dir, "vocab.txt")
    if not (os.path.exists(vocab_copy) and os.path.samefile(vocab_copy, FLAGS.vocab_file)):
        shutil.copyfile(FLAGS.vocab_file, vocab_copy)
    print(f"Google-named model in {FLAGS.output_dir}/model.ckpt", flush=True)


def load_trained_model(strategy, config):
    """A `BertForQuestionAnswering` with every weight, SQuAD head included, from --init_checkpoint."""
    with strategy.scope():
        model = modeling.build_model(modeling.BertForQuestionAnswering(config), FLAGS.max_seq_length)
    report = checkpoints.load_weights(model, FLAGS.init_checkpoint)
    print(report.summary(), flush=True)
    if report.missing:
        hint = " (not fine-tuned on SQuAD? train it with --do_train first)" if report.missing[0].startswith("cls/") \
            else ""
        raise InputError(f"--init_checkpoint: {FLAGS.init_checkpoint} lacks weight '{report.missing[0]}'{hint}")
    return model


def predict_logits(model, features, batch_size, jit_compile):
    """Start and end logits of every window, float32 [num_windows, max_seq_length] each.

    The last batch is padded to `batch_size` so the compiled forward sees one shape.

    Returns:
        (start_logits, end_logits, seconds): `seconds` lists each batch's wall time.
    """

    @tf.function(jit_compile=jit_compile)
    def forward(batch):
        outputs = model(batch, training=False)
        return outputs["start_logits"], outputs["end_logits"]

    num_windows, seq_length = len(features), features.max_seq_length
    start_logits = np.zeros([num_windows, seq_length], np.float32)
    end_logits = np.zeros([num_windows, seq_length], np.float32)
    seconds = []
    for begin in range(0, num_windows, batch_size):
        arrays = features.arrays(begin, begin + batch_size)
        count = len(arrays["input_ids"])
        batch = {name: np.pad(arrays[name], [(0, batch_size - count), (0, 0)]) for name in INPUT_NAMES}
        started = time.perf_counter()
        start, end = forward(batch)
        start, end = start.numpy(), end.numpy()
        seconds.append(time.perf_counter() - started)
        start_logits[begin:begin + count] = start[:count]
        end_logits[begin:begin + count] = end[:count]
    return start_logits, end_logits, seconds


def throughput_record(seconds, num_windows, batch_size):
    """Sentences/s and batch latency percentiles (ms), the first (compiling) batch left out when possible."""
    timed = seconds[1:] if len(seconds) > 1 else seconds
    timed_windows = num_windows - batch_size if len(seconds) > 1 else num_windows
    total = sum(timed)
    p50, p90, p95, p99 = np.percentile(np.asarray(timed) * 1000.0, [50, 90, 95, 99])
    return {"event": "predict", "windows": num_windows, "batch_size": batch_size,
            "sentences_per_second": round(timed_windows / max(total, 1e-9), 2),
            "latency_ms_avg": round(1000.0 * total / len(timed), 2), "latency_ms_p50": round(p50, 2),
            "latency_ms_p90": round(p90, 2), "latency_ms_p95": round(p95, 2), "latency_ms_p99": round(p99, 2),
            "first_batch_seconds": round(seconds[0], 3)}


def evaluate(gold, result):
    """Official scores: v1.1 {"exact_match", "f1"}; v2.0 the same names first, then the v2 breakdown."""
    if not FLAGS.version_2_with_negative:
        return squad_metrics.evaluate_v1(gold, result.predictions)
    # The predictions already applied --null_score_diff_threshold; null_odds only feed the best-threshold search.
    scores = squad_metrics.evaluate_v2(gold, result.predictions, na_probs=result.null_odds,
                                       na_prob_thresh=float("inf"))
    scores = dict(scores)
    return {"exact_match": scores.pop("exact"), "f1": scores.pop("f1"), **scores}


def predict(model, examples, features, gold, jit_compile):
    """Writes the prediction files (and eval_results.json) into --output_dir; returns the scores or None."""
    start_logits, end_logits, seconds = predict_logits(model, features, FLAGS.predict_batch_size, jit_compile)
    record = throughput_record(seconds, len(features), FLAGS.predict_batch_size)
    logging.info("prediction: %s", json.dumps(record))
    print(f"Prediction: {len(features)} windows at {record['sentences_per_second']} sentences/s "
          f"(batch {FLAGS.predict_batch_size}, average latency {record['latency_ms_avg']} ms per batch).", flush=True)
    result = squad.compute_predictions(
        examples, features, start_logits, end_logits, n_best_size=FLAGS.n_best_size,
        max_answer_length=FLAGS.max_answer_length, version_2_with_negative=FLAGS.version_2_with_negative,
        null_score_diff_threshold=FLAGS.null_score_diff_threshold)
    for path in squad.write_predictions(result, FLAGS.output_dir):
        print(f"Wrote {path}", flush=True)
    scores = None
    if gold is None:
        print(f"{FLAGS.predict_file} has no gold answers: not evaluated.", flush=True)
    else:
        scores = evaluate(gold, result)
        print(json.dumps({"exact_match": scores["exact_match"], "f1": scores["f1"]}), flush=True)
        write_text_atomically(os.path.join(FLAGS.output_dir, "eval_results.json"),
                                       json.dumps(scores, indent=2) + "\n")
        record.update(exact_match=scores["exact_match"], f1=scores["f1"])
    append_log(record)
    return scores


def dllog_path():
    return FLAGS.dllog_path or os.path.join(FLAGS.output_dir, "squad_log.jsonl")


def append_log(record):
    path = dllog_path()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


class SquadServingModule(tf.Module):
    """The SavedModel's root: `serve` maps int32 input_ids, input_mask, segment_ids to the span logits."""

    def __init__(self, model, max_seq_length):
        super().__init__()
        self.model = model
        self.model_variables = [variable.value for variable in model.variables]
        specs = [tf.TensorSpec([None, max_seq_length], tf.int32, name=name) for name in INPUT_NAMES]
        self.serve = tf.function(self._serve, input_signature=specs)

    def _serve(self, input_ids, input_mask, segment_ids):
        outputs = self.model({"input_ids": input_ids, "input_mask": input_mask, "segment_ids": segment_ids},
                             training=False)
        return {"start_logits": outputs["start_logits"], "end_logits": outputs["end_logits"]}


def export_saved_model(model, export_dir, max_seq_length):
    """Writes the SavedModel into a sibling temporary folder, then moves it to `export_dir`."""
    export_dir = os.path.abspath(export_dir)
    parent = os.path.dirname(export_dir)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        module = SquadServingModule(model, max_seq_length)
        tf.saved_model.save(module, staging, signatures={"serving_default": module.serve})
        if os.path.isdir(export_dir):
            shutil.rmtree(export_dir)  # an earlier export (check_flags refused any other content)
        os.replace(staging, export_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"SavedModel in {export_dir} (signature serving_default)", flush=True)


def main(argv):
    del argv
    check_flags()
    replicas = distribution.create_replicas(horovod=FLAGS.horovod)
    strategy = replicas.strategy
    keras.utils.set_random_seed(FLAGS.seed)
    jit_compile = precision.configure(FLAGS.amp, FLAGS.amp_dtype, FLAGS.use_xla)
    config = modeling.BertConfig.from_json_file(
        cli_flags.resolve_bert_config(FLAGS.bert_config_file, FLAGS.init_checkpoint))
    if FLAGS.max_seq_length > config.max_position_embeddings:
        raise InputError(f"--max_seq_length: {FLAGS.max_seq_length} exceeds the config's max_position_embeddings "
                         f"({config.max_position_embeddings})")
    tokenizer = tokenization.FullTokenizer(FLAGS.vocab_file, FLAGS.do_lower_case)
    if len(tokenizer.vocab) > config.vocab_size:
        raise InputError(f"--vocab_file: {FLAGS.vocab_file} has {len(tokenizer.vocab)} tokens but the model's "
                         f"vocab_size is {config.vocab_size}")
    # Every input is read and checked before anything is trained or written.
    train_features = read_features(FLAGS.train_file, tokenizer, is_training=True)[1] if FLAGS.do_train else None
    if FLAGS.do_predict:
        predict_examples, predict_features = read_features(FLAGS.predict_file, tokenizer, is_training=False)
        gold = read_gold_answers(FLAGS.predict_file)
    chief = replicas.is_chief
    make_writable_dir(FLAGS.output_dir)

    if FLAGS.do_train:
        model = train(replicas, config, train_features, chief, jit_compile)
    else:
        model = load_trained_model(strategy, config)
    if FLAGS.do_predict and chief:
        predict(model, predict_examples, predict_features, gold, jit_compile)
    if FLAGS.export_dir and chief:
        export_saved_model(model, FLAGS.export_dir, FLAGS.max_seq_length)


if __name__ == "__main__":
    app.run(lambda argv: run_main(main, argv))
