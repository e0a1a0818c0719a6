"""SQuAD v1.1 / v2.0 fine-tuning and prediction with NVIDIA's flags.

    SQuAD JSON -> squad/examples.py -> squad/features.py windows -> train/array_input.py
        -> train/training.py step -> checkpoints
    SQuAD JSON -> windows -> inference.py -> squad/postprocess.py answers -> predictions.json, EM/F1

Training runs the shared step and loop (`bert/train/training.py`); its state lives in --output_dir,
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

from absl import app, flags, logging

from bert import checkpoints, export, inference, modeling
from bert import flags as cli_flags
from bert.errors import InputError, run_main
from bert.files import make_writable_dir, write_text_atomically
from bert.json_log import JsonLinesLog
from bert.squad import evaluation, postprocess
from bert.squad import features as squad_features
from bert.train import array_input, losses, setup

cli_flags.define_model_flags(max_seq_length=384)
cli_flags.define_precision_flags()
cli_flags.define_training_flags(train_batch_size=8, optimizer_type="adam", help_texts={
    "output_dir": "Training state, exported model, predictions and evaluation results.",
    "do_train": "Fine-tune on --train_file.",
    "train_batch_size": "Windows per replica per micro-batch.",
    "learning_rate": "Peak learning rate, used as given (never scaled by the replica count).",
    "optimizer_type": "AdamW (Google's run_squad) or LAMB.",
    "save_checkpoints_steps": "Updates between training checkpoints.",
    "dllog_path": "JSON-lines log of training and prediction (default <output_dir>/squad_log.jsonl).",
})
flags.DEFINE_string("train_file", None, "SQuAD JSON for training, e.g. train-v1.1.json.")
flags.DEFINE_string("predict_file", None, "SQuAD JSON to predict, e.g. dev-v1.1.json; scored if it has answers.")
flags.DEFINE_integer("doc_stride", 128, "Tokens between the starts of consecutive document windows.")
flags.DEFINE_integer("max_query_length", 64, "Question tokens kept; longer questions are truncated.")
flags.DEFINE_bool("do_predict", False, "Predict answers for --predict_file.")
flags.DEFINE_integer("predict_batch_size", 8, "Windows per prediction batch.")
flags.DEFINE_float("num_train_epochs", 3.0, "Passes over the training windows.")
flags.DEFINE_float("warmup_proportion", 0.1, "Fraction of the updates spent in linear warmup.")
flags.DEFINE_bool("decay_after_warmup", True,
                  "After warmup, decay linearly from --learning_rate to 0 over the remaining updates (transformers' "
                  "and NVIDIA's PyTorch schedule). --nodecay_after_warmup: Google's TF1 schedule, "
                  "learning_rate * (1 - step / steps), which starts decaying from (1 - warmup_proportion) x the peak.")
flags.DEFINE_integer("n_best_size", 20, "Candidates kept per question in nbest_predictions.json.")
flags.DEFINE_integer("max_answer_length", 30, "Longest answer, in WordPiece tokens.")
flags.DEFINE_bool("verbose_logging", False, "Log the first windows of each input: tokens, ids and answer positions.")
flags.DEFINE_bool("version_2_with_negative", False, "SQuAD 2.0: questions may have no answer.")
flags.DEFINE_float("null_score_diff_threshold", 0.0, "v2: predict no answer when null score - best span score exceeds "
                   "this (evaluation prints the best value as best_f1_thresh).")
flags.DEFINE_string("export_dir", None, "Also write a SavedModel here (signature serving_default: int32 "
                    "input_ids, input_mask, segment_ids [batch, max_seq_length] -> start_logits, end_logits).")
FLAGS = flags.FLAGS
TRAIN_COLUMNS = ("input_ids", "input_mask", "segment_ids", "start_positions", "end_positions")


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
    cli_flags.require_at_least_one(FLAGS, "max_seq_length", "doc_stride", "max_query_length", "train_batch_size",
                                   "predict_batch_size", "save_checkpoints_steps", "display_loss_steps",
                                   "num_accumulation_steps", "n_best_size", "max_answer_length")
    if not FLAGS.num_train_epochs > 0:
        raise InputError(f"--num_train_epochs: must be positive, got {FLAGS.num_train_epochs}")
    if not 0 <= FLAGS.warmup_proportion <= 1:
        raise InputError(f"--warmup_proportion: must be in [0, 1], got {FLAGS.warmup_proportion}")
    if FLAGS.export_dir:
        export.check_export_dir(FLAGS.export_dir)


def read_features(path, tokenizer, is_training):
    """SQuAD examples of `path` and their windows (`squad_features.SquadFeatures`); the first 3 logged if verbose."""
    return squad_features.read_windows(path, tokenizer, FLAGS.max_seq_length, FLAGS.doc_stride, FLAGS.max_query_length,
                                       is_training, windows_to_log=3 if FLAGS.verbose_logging else 0)


def build_model(config):
    """A built `BertForQuestionAnswering` for --max_seq_length; call it under the replicas' strategy."""
    return modeling.build_model(modeling.BertForQuestionAnswering(config), FLAGS.max_seq_length)


def train(replicas, config, features, jit_compile):
    """Fine-tunes (or resumes fine-tuning) a `BertForQuestionAnswering`; returns it."""
    per_replica_batch, global_batch = setup.batch_sizes(FLAGS, replicas)
    num_train_steps = int(len(features) / global_batch * FLAGS.num_train_epochs)
    if num_train_steps < 1:
        raise InputError(f"--num_train_epochs: {FLAGS.num_train_epochs} epochs of {len(features)} training windows "
                         f"do not fill one global batch of {global_batch}")
    num_warmup_steps = int(num_train_steps * FLAGS.warmup_proportion)
    print(f"{setup.describe_global_batch(FLAGS, replicas, 'windows')}; learning rate {FLAGS.learning_rate} (as given, "
          f"not scaled by the replica count); {num_train_steps} updates ({len(features)} windows x "
          f"{FLAGS.num_train_epochs} epochs), {num_warmup_steps} of warmup.", flush=True)
    run = setup.build_training(replicas, FLAGS, lambda: build_model(config), num_train_steps,
                               num_warmup_steps, {"decay_after_warmup": FLAGS.decay_after_warmup},
                               random_init_note="No --init_checkpoint: training from randomly initialised weights.")
    columns = {name: value for name, value in features.arrays().items() if name in TRAIN_COLUMNS}
    dataset = array_input.make_train_dataset(replicas, columns, per_replica_batch, int(run.step.numpy()), FLAGS.seed)
    last = run.train(losses.SQUAD, dataset, jit_compile, num_train_steps, global_batch,
                     setup.dllog_path(FLAGS, "squad_log.jsonl"))
    if replicas.is_chief:
        export.export_google_model(run.model, config, FLAGS.output_dir, vocab_file=FLAGS.vocab_file)
        print(f"Google-named model in {FLAGS.output_dir}/model.ckpt", flush=True)
        print(f"Finished training at step {int(run.step.numpy())}: {json.dumps(last)}", flush=True)
    return run.model


def load_trained_model(strategy, config):
    """A `BertForQuestionAnswering` with every weight, SQuAD head included, from --init_checkpoint."""
    with strategy.scope():
        model = build_model(config)
    report = checkpoints.load_weights(model, FLAGS.init_checkpoint)
    print(report.summary(), flush=True)
    if report.missing:
        hint = " (not fine-tuned on SQuAD? train it with --do_train first)" if report.missing[0].startswith("cls/") \
            else ""
        raise InputError(f"--init_checkpoint: {FLAGS.init_checkpoint} lacks weight '{report.missing[0]}'{hint}")
    return model


def predict(model, examples, features, gold, jit_compile):
    """Writes the prediction files (and, given `gold`, eval_results.json) into --output_dir; logs the run."""
    logits, seconds = inference.predict_outputs(model, len(features), features.arrays, export.SQUAD_OUTPUTS,
                                                FLAGS.predict_batch_size, jit_compile)
    record = inference.throughput_record(seconds, len(features), FLAGS.predict_batch_size)
    logging.info("prediction: %s", json.dumps(record))
    print(f"Prediction: {len(features)} windows at {record['sentences_per_second']} sentences/s "
          f"(batch {FLAGS.predict_batch_size}, average latency {record['latency_ms_avg']} ms per batch).", flush=True)
    result = postprocess.compute_predictions(
        examples, features, logits["start_logits"], logits["end_logits"], n_best_size=FLAGS.n_best_size,
        max_answer_length=FLAGS.max_answer_length, version_2_with_negative=FLAGS.version_2_with_negative,
        null_score_diff_threshold=FLAGS.null_score_diff_threshold)
    for path in postprocess.write_predictions(result, FLAGS.output_dir):
        print(f"Wrote {path}", flush=True)
    if gold is None:
        print(f"{FLAGS.predict_file} has no gold answers: not evaluated.", flush=True)
    else:
        scores = evaluation.official_scores(gold, result, FLAGS.version_2_with_negative)
        print(json.dumps({"exact_match": scores["exact_match"], "f1": scores["f1"]}), flush=True)
        write_text_atomically(os.path.join(FLAGS.output_dir, "eval_results.json"), json.dumps(scores, indent=2) + "\n")
        record.update(exact_match=scores["exact_match"], f1=scores["f1"])
    JsonLinesLog(setup.dllog_path(FLAGS, "squad_log.jsonl")).append(record)


def main(argv):
    del argv
    check_flags()
    # A SavedModel must not hold oneDNN-only ops, nor a training run cached weights.
    replicas, xla = setup.start(FLAGS, forward_only=not (FLAGS.do_train or FLAGS.export_dir))
    config, tokenizer = cli_flags.config_and_tokenizer(FLAGS)
    # Every input is read and checked before anything is trained or written.
    train_features = read_features(FLAGS.train_file, tokenizer, is_training=True)[1] if FLAGS.do_train else None
    if FLAGS.do_predict:
        predict_examples, predict_features = read_features(FLAGS.predict_file, tokenizer, is_training=False)
        gold = evaluation.read_gold_answers(FLAGS.predict_file, FLAGS.version_2_with_negative)
    make_writable_dir(FLAGS.output_dir)

    model = train(replicas, config, train_features, xla.training) if FLAGS.do_train else \
        load_trained_model(replicas.strategy, config)
    if FLAGS.do_predict and replicas.is_chief:
        predict(model, predict_examples, predict_features, gold, xla.inference)
    if FLAGS.export_dir and replicas.is_chief:
        export_dir = export.export_saved_model(model, FLAGS.export_dir, FLAGS.max_seq_length)
        print(f"SavedModel in {export_dir} (signature serving_default)", flush=True)


if __name__ == "__main__":
    app.run(lambda argv: run_main(main, argv))
