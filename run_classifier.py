"""Sentence and sentence-pair classification (GLUE, XNLI, your own CSV/TSV/JSON lines) with Google's flags.

    task files -> classify/processors.py examples -> text/sequences.py inputs -> train/array_input.py
        -> train/training.py step -> checkpoints
    dev/test files -> inputs -> inference.py -> classify/metrics.py -> eval_results.txt, test_results.tsv

Training runs the shared step and loop; its state lives in --output_dir, so rerunning the
same command resumes where it stopped. At the end the model is also written under Google's
names (`<output_dir>/model.ckpt`: `bert/...` and the classifier's `output_weights`,
`output_bias`, with `bert_config.json`, `vocab.txt` and `label_list.txt`, the classes in
logit order). --do_eval writes Google's
`eval_results.txt` (`key = value` lines: eval_accuracy, and the task's GLUE metric:
eval_f1, eval_mcc, eval_pearson/eval_spearman); --do_predict writes `test_results.tsv`,
one row of class probabilities per test example (STS-B: the predicted score).

    python run_classifier.py --task_name=MRPC --data_dir=glue_data/MRPC --vocab_file=vocab.txt \
        --bert_config_file=bert_config.json --init_checkpoint=bert_model.ckpt --do_train --do_eval \
        --max_seq_length=128 --train_batch_size=32 --learning_rate=2e-5 --num_train_epochs=3 \
        --output_dir=results/mrpc
    python run_classifier.py --task_name=csv --text_a_column=review --label_column=stars ...
"""

import json
import os

import numpy as np
from absl import app, flags, logging

from bert import checkpoints, export, inference, modeling
from bert import flags as cli_flags
from bert.classify import metrics as classify_metrics
from bert.classify import processors
from bert.errors import InputError, run_main
from bert.files import make_writable_dir, write_text_atomically
from bert.json_log import JsonLinesLog
from bert.text import sequences
from bert.train import array_input, losses, setup

cli_flags.define_model_flags(max_seq_length=128)
cli_flags.define_precision_flags()
cli_flags.define_training_flags(train_batch_size=32, optimizer_type="adam", help_texts={
    "output_dir": "Training state, exported model, eval_results.txt and test_results.tsv.",
    "do_train": "Fine-tune on the task's training file.",
    "train_batch_size": "Examples per replica per micro-batch.",
    "learning_rate": "Peak learning rate, used as given (never scaled by the replica count).",
    "optimizer_type": "AdamW (Google's run_classifier) or LAMB.",
    "save_checkpoints_steps": "Updates between training checkpoints.",
    "dllog_path": "JSON-lines log of training and prediction (default <output_dir>/classifier_log.jsonl).",
})
flags.DEFINE_string("task_name", None, f"The task: {', '.join(processors.PROCESSORS)} (any case).")
flags.DEFINE_string("data_dir", None, "The task's folder: GLUE's released files (train.tsv, dev.tsv, test.tsv, ...) "
                    "or train/dev/test.<csv|tsv|jsonl>.")
flags.DEFINE_string("text_a_column", None, "csv/tsv/jsonl tasks: the column of the (first) text.")
flags.DEFINE_string("text_b_column", None, "csv/tsv/jsonl tasks: the column of the second text of a pair.")
flags.DEFINE_string("label_column", None, "csv/tsv/jsonl tasks: the column of the label.")
flags.DEFINE_string("xnli_language", None, "XNLI: the language to train and evaluate on (default zh, as Google).")
flags.DEFINE_bool("do_eval", False, "Evaluate on the dev file: eval_results.txt.")
flags.DEFINE_bool("do_predict", False, "Predict the test file: test_results.tsv.")
flags.DEFINE_integer("eval_batch_size", 8, "Examples per evaluation batch.")
flags.DEFINE_integer("predict_batch_size", 8, "Examples per prediction batch.")
flags.DEFINE_float("num_train_epochs", 3.0, "Passes over the training examples.")
flags.DEFINE_float("warmup_proportion", 0.1, "Fraction of the updates spent in linear warmup.")
flags.DEFINE_bool("decay_after_warmup", True,
                  "After warmup, decay linearly from --learning_rate to 0 over the remaining updates (transformers' "
                  "schedule). --nodecay_after_warmup: Google's TF1 schedule, learning_rate * (1 - step / steps).")
flags.DEFINE_string("export_dir", None, "Also write a SavedModel here (signature serving_default: int32 "
                    "input_ids, input_mask, segment_ids [batch, max_seq_length] -> float32 logits).")
FLAGS = flags.FLAGS
TRAIN_COLUMNS = sequences.INPUT_NAMES + ("label_ids",)


def check_flags():
    if not (FLAGS.do_train or FLAGS.do_eval or FLAGS.do_predict or FLAGS.export_dir):
        raise InputError("nothing to do: pass --do_train, --do_eval, --do_predict and/or --export_dir")
    cli_flags.require(task_name=FLAGS.task_name, vocab_file=FLAGS.vocab_file, output_dir=FLAGS.output_dir)
    if FLAGS.do_train or FLAGS.do_eval or FLAGS.do_predict:
        cli_flags.require(data_dir=FLAGS.data_dir)
    if not FLAGS.do_train:
        cli_flags.require(init_checkpoint=FLAGS.init_checkpoint)
    cli_flags.require_at_least_one(FLAGS, "train_batch_size", "eval_batch_size", "predict_batch_size",
                                   "num_accumulation_steps")
    if FLAGS.export_dir:
        export.check_export_dir(FLAGS.export_dir)


def encode(examples, tokenizer, label_list):
    """The examples' int32 inputs [N, max_seq_length] and `label_ids` [N] (int32 class ids; float32 scores
    for regression; -1 for unlabelled test examples)."""
    _, arrays = sequences.encode_texts(tokenizer, [(e.text_a, e.text_b) for e in examples], FLAGS.max_seq_length)
    if label_list is None:
        arrays["label_ids"] = np.array([np.nan if e.label is None else e.label for e in examples], np.float32)
    else:
        index = {label: i for i, label in enumerate(label_list)}
        arrays["label_ids"] = np.array([-1 if e.label is None else index[e.label] for e in examples], np.int32)
    return arrays


def build_model(config, num_outputs):
    """A built `BertForSequenceClassification` for --max_seq_length; call it under the replicas' strategy."""
    return modeling.build_model(modeling.BertForSequenceClassification(config, num_outputs), FLAGS.max_seq_length)


def train(replicas, config, label_list, arrays, task, jit_compile):
    """Fine-tunes (or resumes fine-tuning) the classifier on `arrays`; returns (model, updates done)."""
    num_examples = len(arrays["input_ids"])
    per_replica_batch, global_batch = setup.batch_sizes(FLAGS, replicas)
    num_train_steps = int(num_examples / global_batch * FLAGS.num_train_epochs)
    if num_train_steps < 1:
        raise InputError(f"--num_train_epochs: {FLAGS.num_train_epochs} epochs of {num_examples} training examples "
                         f"do not fill one global batch of {global_batch}")
    num_warmup_steps = int(num_train_steps * FLAGS.warmup_proportion)
    print(f"{setup.describe_global_batch(FLAGS, replicas, 'examples')}; learning rate {FLAGS.learning_rate} (as "
          f"given, not scaled by the replica count); {num_train_steps} updates ({num_examples} examples x "
          f"{FLAGS.num_train_epochs} epochs), {num_warmup_steps} of warmup.", flush=True)
    num_outputs = 1 if label_list is None else len(label_list)
    run = setup.build_training(replicas, FLAGS, lambda: build_model(config, num_outputs), num_train_steps,
                               num_warmup_steps, {"decay_after_warmup": FLAGS.decay_after_warmup},
                               random_init_note="No --init_checkpoint: training from randomly initialised weights.")
    columns = {name: arrays[name] for name in TRAIN_COLUMNS}
    dataset = array_input.make_train_dataset(replicas, columns, per_replica_batch, int(run.step.numpy()), FLAGS.seed)
    last = run.train(task, dataset, jit_compile, num_train_steps, global_batch,
                     setup.dllog_path(FLAGS, "classifier_log.jsonl"))
    if replicas.is_chief:
        export.export_google_model(run.model, config, FLAGS.output_dir, vocab_file=FLAGS.vocab_file)
        if label_list is not None:  # names the logits for export_model.py
            write_text_atomically(os.path.join(FLAGS.output_dir, "label_list.txt"),
                                  "".join(f"{label}\n" for label in label_list))
        print(f"Google-named model in {FLAGS.output_dir}/model.ckpt", flush=True)
        print(f"Finished training at step {int(run.step.numpy())}: {json.dumps(last)}", flush=True)
    return run.model, int(run.step.numpy())


def load_trained_model(strategy, config, num_outputs):
    """The classifier with every weight, its head included, from --init_checkpoint."""
    with strategy.scope():
        model = build_model(config, num_outputs)
    report = checkpoints.load_weights(model, FLAGS.init_checkpoint)
    print(report.summary(), flush=True)
    if report.missing:
        hint = " (not fine-tuned on this task? train it with --do_train first)" \
            if report.missing[0].startswith("output_") else ""
        raise InputError(f"--init_checkpoint: {FLAGS.init_checkpoint} lacks weight '{report.missing[0]}'{hint}")
    return model


def logits_of(model, arrays, batch_size, jit_compile, log):
    """float32 logits [N, num_outputs] of every example; logs the throughput record."""
    num_examples = len(arrays["input_ids"])
    outputs, seconds = inference.predict_outputs(
        model, num_examples, lambda begin, end: {name: arrays[name][begin:end] for name in sequences.INPUT_NAMES},
        ("logits",), batch_size, jit_compile)
    record = inference.throughput_record(seconds, num_examples, batch_size)
    logging.info("prediction: %s", json.dumps(record))
    log.append(record)
    return outputs["logits"]


def evaluation_results(task_name, logits, label_ids, is_regression):
    """Google's eval results: eval_loss (mean cross-entropy or squared error) and eval_<metric> per GLUE."""
    if is_regression:
        predictions = logits[:, 0]
        loss = float(np.mean(np.square(predictions - label_ids)))
    else:
        predictions = np.argmax(logits, axis=-1)
        shifted = logits - logits.max(axis=-1, keepdims=True)
        log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        loss = float(-np.mean(log_probabilities[np.arange(len(label_ids)), label_ids]))
    scores = classify_metrics.task_metrics(task_name, label_ids, predictions)
    return {"eval_loss": loss, **{f"eval_{name}": value for name, value in scores.items()}}


def write_eval_results(results, global_step):
    path = os.path.join(FLAGS.output_dir, "eval_results.txt")
    lines = [f"{key} = {value}" for key, value in sorted({**results, "global_step": global_step}.items())]
    write_text_atomically(path, "\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)
    print(f"Wrote {path}", flush=True)


def write_test_results(logits, is_regression):
    """test_results.tsv: per test example, the class probabilities (Google's layout) or the predicted score."""
    if is_regression:
        rows = logits[:, :1]
    else:
        shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
        rows = shifted / shifted.sum(axis=-1, keepdims=True)
    path = os.path.join(FLAGS.output_dir, "test_results.tsv")
    write_text_atomically(path, "".join("\t".join(str(float(value)) for value in row) + "\n" for row in rows))
    print(f"Wrote {path} ({len(rows)} rows)", flush=True)


def read_examples(processor):
    """{split: examples} of the splits this run needs, the label sets checked; everything read before any work."""
    examples = {}
    if FLAGS.do_train:
        examples["train"] = processor.train_examples(FLAGS.data_dir)
    if FLAGS.do_eval:
        examples["dev"] = processor.dev_examples(FLAGS.data_dir)
        if FLAGS.do_train:
            unseen = processors.check_label_sets(examples["train"], examples["dev"], FLAGS.data_dir)
            if unseen:
                logging.warning("no dev example has the label(s) %s", ", ".join(unseen))
    if FLAGS.do_predict:
        examples["test"] = processor.test_examples(FLAGS.data_dir)
    return examples


def main(argv):
    del argv
    check_flags()
    processor = processors.get_processor(
        FLAGS.task_name, xnli_language=FLAGS.xnli_language, text_a_column=FLAGS.text_a_column,
        text_b_column=FLAGS.text_b_column, label_column=FLAGS.label_column)
    # A SavedModel must not hold oneDNN-only ops, nor a training run cached weights.
    replicas, xla = setup.start(FLAGS, forward_only=not (FLAGS.do_train or FLAGS.export_dir))
    config, tokenizer = cli_flags.config_and_tokenizer(FLAGS)
    examples = read_examples(processor)
    label_list = None if processor.is_regression else processor.labels()
    num_outputs = 1 if label_list is None else len(label_list)
    arrays = {split: encode(split_examples, tokenizer, label_list) for split, split_examples in examples.items()}
    make_writable_dir(FLAGS.output_dir)
    print(f"Task {processor.name}: " + ("regression" if label_list is None else f"labels {label_list}") + "; "
          + ", ".join(f"{len(split_examples)} {split} examples" for split, split_examples in examples.items()),
          flush=True)

    task = losses.REGRESSION if label_list is None else losses.CLASSIFICATION
    if FLAGS.do_train:
        model, global_step = train(replicas, config, label_list, arrays["train"], task, xla.training)
    else:
        model, global_step = load_trained_model(replicas.strategy, config, num_outputs), 0
    if not replicas.is_chief:
        return
    log = JsonLinesLog(setup.dllog_path(FLAGS, "classifier_log.jsonl"))
    if FLAGS.do_eval:
        logits = logits_of(model, arrays["dev"], FLAGS.eval_batch_size, xla.inference, log)
        results = evaluation_results(processor.name, logits, arrays["dev"]["label_ids"], label_list is None)
        write_eval_results(results, global_step)
        log.append({"event": "eval", **results})
    if FLAGS.do_predict:
        write_test_results(logits_of(model, arrays["test"], FLAGS.predict_batch_size, xla.inference, log),
                           label_list is None)
    if FLAGS.export_dir:
        export_dir = export.export_saved_model(model, FLAGS.export_dir, FLAGS.max_seq_length, ("logits",))
        print(f"SavedModel in {export_dir} (signature serving_default)", flush=True)


if __name__ == "__main__":
    app.run(lambda argv: run_main(main, argv))
