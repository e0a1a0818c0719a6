"""Named-entity recognition (token tagging) fine-tuning, evaluation and prediction, in NVIDIA's BioBERT/CoNLL style.

    CoNLL files -> ner/conll.py sentences -> ner/features.py windows -> train/array_input.py
        -> train/training.py step (losses.TAGGING) -> checkpoints
    dev / test sentences -> windows -> inference.py logits -> one tag per word -> ner/metrics.py

Input files are CoNLL `word ... tag` lines, a blank line between sentences (CoNLL-2003's
four columns or `word tag`; IOB1 or BIO, see --tag_scheme): --data_dir's train.txt,
dev.txt and test.txt, or --train_file, --dev_file and --test_file. The labels are
collected from the training file and written to `<output_dir>/label_list.txt` (one per
line, the logits' order); a later run without --do_train reads them from beside
--init_checkpoint (the trained folder or its model.ckpt). Training state lives in
--output_dir, so rerunning the same command resumes where it stopped; at the end the
model is also written under Google's names (`model.ckpt`, `bert_config.json`, `vocab.txt`).

--do_eval writes `eval_results.txt` (Google's `key = value` lines: precision, recall and f1
over entities, as conlleval and seqeval count them, token accuracy, and f1_<TYPE> per
entity type) and `eval_predictions.txt` (`word gold predicted` lines). --do_predict
writes `test_predictions.txt`: `word gold predicted` when the test file is labelled, then
also `test_results.txt`, or `word predicted` when it is not. The test file counts as
labelled when its first token line has two or more columns; every line then needs a tag.

    python run_ner.py --vocab_file=vocab.txt --bert_config_file=bert_config.json \
        --init_checkpoint=bert_model.ckpt --nodo_lower_case --data_dir=data/conll2003 \
        --do_train --do_eval --do_predict --train_batch_size=32 --learning_rate=5e-5 \
        --num_train_epochs=3 --output_dir=results/ner --amp --use_xla
"""

import json
import os
import re

from absl import app, flags, logging

from bert import checkpoints, export, inference, modeling
from bert import flags as cli_flags
from bert.errors import InputError, run_main
from bert.files import make_writable_dir, staged_folder, write_text_atomically
from bert.json_log import JsonLinesLog
from bert.ner import conll, metrics
from bert.ner import features as ner_features
from bert.train import array_input, losses, setup

cli_flags.define_model_flags(max_seq_length=128)
cli_flags.define_precision_flags()
cli_flags.define_training_flags(train_batch_size=32, optimizer_type="adam", help_texts={
    "output_dir": "Training state, exported model, label_list.txt, predictions and evaluation results.",
    "do_train": "Fine-tune on the training file.",
    "train_batch_size": "Windows per replica per micro-batch.",
    "learning_rate": "Peak learning rate, used as given (never scaled by the replica count).",
    "optimizer_type": "AdamW (Google's fine-tuning optimizer) or LAMB.",
    "save_checkpoints_steps": "Updates between training checkpoints.",
    "dllog_path": "JSON-lines log of training and prediction (default <output_dir>/ner_log.jsonl).",
})
flags.DEFINE_string("data_dir", None, "Folder holding train.txt, dev.txt and test.txt (CoNLL format).")
flags.DEFINE_string("train_file", None, "Training CoNLL file, instead of <data_dir>/train.txt.")
flags.DEFINE_string("dev_file", None, "Evaluation CoNLL file, instead of <data_dir>/dev.txt.")
flags.DEFINE_string("test_file", None, "CoNLL file to predict, instead of <data_dir>/test.txt; scored when its "
                    "first token line has a tag column.")
flags.DEFINE_bool("do_eval", False, "Predict and score the dev file.")
flags.DEFINE_bool("do_predict", False, "Predict the test file.")
flags.DEFINE_enum("tag_scheme", "auto", list(conll.TAG_SCHEMES),
                  "Tags of the input files: bio (IOB2, kept as written), iob1 (CoNLL-2003's original files, "
                  "converted to BIO) or auto (IOB1 when some I-X begins an entity; either way read as BIO).")
flags.DEFINE_integer("doc_stride", None, "WordPiece tokens between the starts of consecutive windows of a sentence "
                     "longer than --max_seq_length - 2 tokens (default --max_seq_length // 2). Words are never "
                     "cut; a word in two windows is predicted by the one giving it most context.")
flags.DEFINE_integer("eval_batch_size", 8, "Windows per evaluation batch.")
flags.DEFINE_integer("predict_batch_size", 8, "Windows per prediction batch.")
flags.DEFINE_float("num_train_epochs", 3.0, "Passes over the training windows.")
flags.DEFINE_float("warmup_proportion", 0.1, "Fraction of the updates spent in linear warmup (then linear decay "
                   "to 0).")
flags.DEFINE_string("export_dir", None, "Also write a SavedModel here (signature serving_default: int32 "
                    "input_ids, input_mask, segment_ids [batch, max_seq_length] -> logits [batch, max_seq_length, "
                    "num_labels]), with label_list.txt naming the logits.")
FLAGS = flags.FLAGS
LABEL_FILE = "label_list.txt"
_COLUMN = re.compile("[^ \t\r]+")  # conll.py's column separators


def check_flags():
    """Raises InputError for the first missing or impossible flag, before any work is done."""
    if not (FLAGS.do_train or FLAGS.do_eval or FLAGS.do_predict or FLAGS.export_dir):
        raise InputError("nothing to do: pass --do_train, --do_eval, --do_predict and/or --export_dir")
    cli_flags.require(vocab_file=FLAGS.vocab_file, output_dir=FLAGS.output_dir)
    if not FLAGS.do_train:
        cli_flags.require(init_checkpoint=FLAGS.init_checkpoint)
    cli_flags.require_at_least_one(FLAGS, "max_seq_length", "train_batch_size", "eval_batch_size",
                                   "predict_batch_size", "save_checkpoints_steps", "display_loss_steps",
                                   "num_accumulation_steps")
    if FLAGS.max_seq_length < 3:
        raise InputError(f"--max_seq_length: must be at least 3 ([CLS], a token, [SEP]), got {FLAGS.max_seq_length}")
    if FLAGS.doc_stride is not None and FLAGS.doc_stride < 1:
        raise InputError(f"--doc_stride: must be at least 1, got {FLAGS.doc_stride}")
    if not FLAGS.num_train_epochs > 0:
        raise InputError(f"--num_train_epochs: must be positive, got {FLAGS.num_train_epochs}")
    if not 0 <= FLAGS.warmup_proportion <= 1:
        raise InputError(f"--warmup_proportion: must be in [0, 1], got {FLAGS.warmup_proportion}")
    if FLAGS.export_dir:
        export.check_export_dir(FLAGS.export_dir)


def data_file(flag, default_name):
    """--<flag>, else <data_dir>/<default_name>; InputError when neither is given."""
    path = getattr(FLAGS, flag)
    if path:
        return path
    if FLAGS.data_dir:
        return os.path.join(FLAGS.data_dir, default_name)
    raise InputError(f"--{flag}: required (or --data_dir holding {default_name})")


def has_tag_column(path):
    """Whether the first token line of CoNLL file `path` has two or more columns (True if unreadable: read_conll
    then reports why)."""
    try:
        with open(path, encoding="utf-8-sig") as source:
            for line in source:
                columns = _COLUMN.findall(line.rstrip("\n"))
                if columns and columns[0] != conll.DOCSTART:
                    return len(columns) >= 2
    except (OSError, UnicodeDecodeError):
        pass
    return True


def checkpoint_folder(path):
    return path if os.path.isdir(path) else os.path.dirname(path) or "."


def read_label_list(path):
    """The labels of a `label_list.txt`, one per line; InputError naming the line of a bad one."""
    try:
        with open(path, encoding="utf-8") as source:
            lines = source.read().splitlines()
    except FileNotFoundError:
        raise InputError(f"--init_checkpoint: no {LABEL_FILE} in {os.path.dirname(path) or '.'} (--do_train writes "
                         f"it beside the trained model)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot read the label list ({error})") from None
    for number, label in enumerate(lines, start=1):
        if not re.fullmatch("O|[BI]-[^ \t]+", label) or label in lines[:number - 1]:
            raise InputError(f"{path}:{number}: {label!r} is not a new O, B-<type> or I-<type> label")
    if not lines:
        raise InputError(f"{path}: the label list is empty")
    return lines


def check_tagging_head(num_labels, required):
    """InputError unless --init_checkpoint's `cls/ner/` head (if any; `required`: there must be one) has
    `num_labels` rows."""
    if not FLAGS.init_checkpoint:
        return
    shape = checkpoints.open_weights(FLAGS.init_checkpoint).shapes.get("cls/ner/output_weights")
    if shape is None and required:
        raise InputError(f"--init_checkpoint: {FLAGS.init_checkpoint} lacks weight 'cls/ner/output_weights' (not "
                         "fine-tuned for tagging? train it with --do_train first)")
    if shape is not None and shape[0] != num_labels:
        raise InputError(f"--init_checkpoint: {FLAGS.init_checkpoint} tags {shape[0]} labels but the label list has "
                         f"{num_labels}")


def read_labels(train_sentences):
    """The label list: the training file's (checked against a run being resumed), else the trained model's."""
    if train_sentences is None:
        labels = read_label_list(os.path.join(checkpoint_folder(FLAGS.init_checkpoint), LABEL_FILE))
        check_tagging_head(len(labels), required=True)
        return labels
    labels = conll.collect_labels(train_sentences)
    previous = os.path.join(FLAGS.output_dir, LABEL_FILE)
    if os.path.exists(previous) and read_label_list(previous) != labels:
        raise InputError(f"{previous}: the run being resumed has labels {', '.join(read_label_list(previous))}, but "
                         f"the training file gives {', '.join(labels)}; use another --output_dir")
    check_tagging_head(len(labels), required=False)
    return labels


class Split:
    """One CoNLL file's sentences, their windows and the stacked window arrays."""

    def __init__(self, path, sentences, windows):
        self.path, self.sentences, self.windows = path, sentences, windows
        self.arrays = ner_features.stack_windows(windows)
        self.labelled = sentences[0].tags is not None

    def slice(self, begin, end):
        return {name: value[begin:end] for name, value in self.arrays.items()}


def doc_stride():
    return FLAGS.doc_stride if FLAGS.doc_stride is not None else max(1, FLAGS.max_seq_length // 2)


def make_split(path, sentences, tokenizer, labels):
    """The `Split` of `sentences`, read from `path`."""
    windows = ner_features.convert_sentences_to_windows(sentences, tokenizer, labels, FLAGS.max_seq_length,
                                                        doc_stride())
    print(f"{path}: {len(sentences)} sentences, {sum(len(s.words) for s in sentences)} words, {len(windows)} "
          f"windows{'' if sentences[0].tags is not None else ' (no tags)'}.", flush=True)
    return Split(path, sentences, windows)


def read_split(path, tokenizer, labels, labelled=True):
    """The `Split` of CoNLL file `path`, its tags checked against `labels`."""
    sentences = conll.read_conll(path, labelled=labelled, scheme=FLAGS.tag_scheme, labels=labels)
    return make_split(path, sentences, tokenizer, labels)


def read_inputs(replicas, tokenizer):
    """(labels, train, dev, test): the label list and the `Split` of each file the run uses (None for the others)."""
    train_split = dev_split = test_split = None
    train_sentences = None
    if FLAGS.do_train:
        train_path = data_file("train_file", "train.txt")
        train_sentences = conll.read_conll(train_path, scheme=FLAGS.tag_scheme)
    labels = read_labels(train_sentences)
    print(f"{len(labels)} labels: {' '.join(labels)}", flush=True)
    if FLAGS.do_train:
        train_split = make_split(train_path, train_sentences, tokenizer, labels)
        count_train_steps(replicas, len(train_split.windows))
    if FLAGS.do_eval:
        dev_split = read_split(data_file("dev_file", "dev.txt"), tokenizer, labels)
    if FLAGS.do_predict:
        test_path = data_file("test_file", "test.txt")
        test_split = read_split(test_path, tokenizer, labels, labelled=has_tag_column(test_path))
    return labels, train_split, dev_split, test_split


def build_model(config, num_labels):
    """A built `BertForTokenClassification` for --max_seq_length; call it under the replicas' strategy."""
    return modeling.build_model(modeling.BertForTokenClassification(config, num_labels), FLAGS.max_seq_length)


def count_train_steps(replicas, num_windows):
    """Updates of --num_train_epochs over `num_windows` windows; InputError when that is not one."""
    global_batch = setup.batch_sizes(FLAGS, replicas)[1]
    num_train_steps = int(num_windows / global_batch * FLAGS.num_train_epochs)
    if num_train_steps < 1:
        raise InputError(f"--num_train_epochs: {FLAGS.num_train_epochs} epochs of {num_windows} training windows "
                         f"do not fill one global batch of {global_batch}")
    return num_train_steps


def train(replicas, config, labels, split, jit_compile):
    """Fine-tunes (or resumes fine-tuning) a `BertForTokenClassification`; returns it."""
    per_replica_batch, global_batch = setup.batch_sizes(FLAGS, replicas)
    num_windows = len(split.windows)
    num_train_steps = count_train_steps(replicas, num_windows)
    num_warmup_steps = int(num_train_steps * FLAGS.warmup_proportion)
    print(f"{setup.describe_global_batch(FLAGS, replicas, 'windows')}; learning rate {FLAGS.learning_rate} (as given, "
          f"not scaled by the replica count); {num_train_steps} updates ({num_windows} windows x "
          f"{FLAGS.num_train_epochs} epochs), {num_warmup_steps} of warmup.", flush=True)
    run = setup.build_training(replicas, FLAGS, lambda: build_model(config, len(labels)), num_train_steps,
                               num_warmup_steps, {"decay_after_warmup": True},
                               random_init_note="No --init_checkpoint: training from randomly initialised weights.")
    dataset = array_input.make_train_dataset(replicas, split.arrays, per_replica_batch, int(run.step.numpy()),
                                             FLAGS.seed)
    last = run.train(losses.TAGGING, dataset, jit_compile, num_train_steps, global_batch,
                     setup.dllog_path(FLAGS, "ner_log.jsonl"))
    if replicas.is_chief:
        export.export_google_model(run.model, config, FLAGS.output_dir, vocab_file=FLAGS.vocab_file)
        print(f"Google-named model in {FLAGS.output_dir}/model.ckpt", flush=True)
        print(f"Finished training at step {int(run.step.numpy())}: {json.dumps(last)}", flush=True)
    return run.model


def load_trained_model(strategy, config, num_labels):
    """A `BertForTokenClassification` with every weight, tagging head included, from --init_checkpoint."""
    with strategy.scope():
        model = build_model(config, num_labels)
    report = checkpoints.load_weights(model, FLAGS.init_checkpoint)
    print(report.summary(), flush=True)
    if report.missing:
        raise InputError(f"--init_checkpoint: {FLAGS.init_checkpoint} lacks weight '{report.missing[0]}'")
    return model


def results_lines(report):
    """Google's `key = value` lines of an evaluation: micro precision, recall, f1, accuracy, then f1_<TYPE>."""
    values = {"precision": report.micro.precision, "recall": report.micro.recall, "f1": report.micro.f1,
              "accuracy": report.accuracy}
    values.update((f"f1_{entity_type}", scores.f1) for entity_type, scores in report.per_type.items())
    return [f"{key} = {value}" for key, value in sorted(values.items())]


def tag_and_score(model, labels, split, name, batch_size, jit_compile):
    """Predicts `split`, writes `<name>_predictions.txt` (and, when labelled, `<name>_results.txt`); logs the run."""
    logits, seconds = inference.predict_outputs(model, len(split.windows), split.slice, ("logits",), batch_size,
                                                jit_compile)
    record = inference.throughput_record(seconds, len(split.windows), batch_size)
    print(f"Prediction of {split.path}: {len(split.windows)} windows at {record['sentences_per_second']} "
          f"sentences/s (batch {batch_size}, average latency {record['latency_ms_avg']} ms per batch).", flush=True)
    predicted = ner_features.stitch_predictions(split.sentences, split.windows, logits["logits"], labels)
    predictions_path = os.path.join(FLAGS.output_dir, f"{name}_predictions.txt")
    conll.write_conll(predictions_path, split.sentences, predicted)
    print(f"Wrote {predictions_path}", flush=True)
    record.update(split=name, file=split.path)
    if split.labelled:
        report = metrics.evaluate([sentence.tags for sentence in split.sentences], predicted)
        lines = results_lines(report)
        results_path = os.path.join(FLAGS.output_dir, f"{name}_results.txt")
        write_text_atomically(results_path, "".join(line + "\n" for line in lines))
        print(f"***** {name} results ({split.path}) *****\n" + "".join(f"  {line}\n" for line in lines), end="",
              flush=True)
        record.update(precision=report.micro.precision, recall=report.micro.recall, f1=report.micro.f1,
                      accuracy=report.accuracy)
    logging.info("%s prediction: %s", name, json.dumps(record))
    JsonLinesLog(setup.dllog_path(FLAGS, "ner_log.jsonl")).append(record)


def export_saved_model(model, labels):
    """The SavedModel serving logits, with label_list.txt beside saved_model.pb, written into --export_dir at once."""
    with staged_folder(FLAGS.export_dir) as staging:
        export.write_saved_model(model, staging, FLAGS.max_seq_length, ("logits",))
        write_text_atomically(os.path.join(staging, LABEL_FILE), "".join(label + "\n" for label in labels))
    print(f"SavedModel in {os.path.abspath(FLAGS.export_dir)} (signature serving_default)", flush=True)


def main(argv):
    del argv
    check_flags()
    # A SavedModel must not hold oneDNN-only ops, nor a training run cached weights.
    replicas, xla = setup.start(FLAGS, forward_only=not (FLAGS.do_train or FLAGS.export_dir))
    config, tokenizer = cli_flags.config_and_tokenizer(FLAGS)
    # Every input is read and checked before anything is trained or written.
    labels, train_split, dev_split, test_split = read_inputs(replicas, tokenizer)
    make_writable_dir(FLAGS.output_dir)

    if FLAGS.do_train:
        if replicas.is_chief:
            write_text_atomically(os.path.join(FLAGS.output_dir, LABEL_FILE), "".join(f"{label}\n" for label in labels))
        model = train(replicas, config, labels, train_split, xla.training)
    else:
        model = load_trained_model(replicas.strategy, config, len(labels))
    if not replicas.is_chief:
        return
    if FLAGS.do_eval:
        tag_and_score(model, labels, dev_split, "eval", FLAGS.eval_batch_size, xla.inference)
    if FLAGS.do_predict:
        tag_and_score(model, labels, test_split, "test", FLAGS.predict_batch_size, xla.inference)
    if FLAGS.export_dir:
        export_saved_model(model, labels)


if __name__ == "__main__":
    app.run(lambda argv: run_main(main, argv))
