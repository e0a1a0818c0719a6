"""Classification task files -> `InputExample`s: the GLUE tasks, XNLI, and CSV/TSV/JSON-lines files.

The GLUE and XNLI processors read the files as released, the way google-research/bert's
`run_classifier.py` reads them: `csv.reader(f, delimiter="\\t", quotechar=None)`, so
quotes stay literal; the same columns; the same guids ("<split>-<row index>", the header
being row 0, or "<split>-<the file's index column>"). For the tasks Google lacks (SST-2,
STS-B, QQP, QNLI, RTE, WNLI, MNLI mismatched) they read the columns GLUE's files hold, as
the `glue` processors of Hugging Face transformers do.

Deliberate differences from Google's reading:
  * test examples carry the label None (Google puts a dummy label such as "0" there); XNLI's
    test file has gold labels, and they are kept;
  * bad input raises `InputError`, one line naming the file and the line, where Google
    crashes with a traceback or goes on: a missing or non-UTF-8 file, a file with no
    examples, a row with too few columns, a label not in `labels()`, an STS-B score that is
    not a finite number. (The first QQP release had rows with missing columns, which Hugging
    Face's processor skips; GLUE's current, cleaned QQP files have none.)

The "csv", "tsv" and "jsonl" tasks read train/dev/test.<ext> with named columns; see
`ColumnsProcessor`.

Example:
    >>> processor = get_processor("MRPC")
    >>> processor.labels()
    ['0', '1']
    >>> processor.train_examples("glue_data/MRPC")[0]
    InputExample(guid='train-1', text_a='Amrozi accused his brother , ...',
                 text_b='Referring to him as only " the witness " , ...', label='1')
"""

import csv
import dataclasses
import functools
import inspect
import json
import math
import os
from typing import Optional, Union

from bert.errors import InputError

NLI_LABELS = ("contradiction", "entailment", "neutral")
RTE_LABELS = ("entailment", "not_entailment")
BINARY_LABELS = ("0", "1")

# The options `get_processor` passes on; each matches a flag of the same name.
OPTIONS = ("xnli_language", "text_a_column", "text_b_column", "label_column")


@dataclasses.dataclass
class InputExample:
    """One example of a sentence or sentence-pair task.

    Attributes:
      guid: unique within its split, e.g. "train-12", "dev_matched-7".
      text_a: the first (or only) text, as in the file (no stripping).
      text_b: the second text of a pair task, else None.
      label: a string from the processor's `labels()`; the score (a float) for STS-B;
        None in an unlabeled test set.
    """

    guid: str
    text_a: str
    text_b: Optional[str]
    label: Optional[Union[str, float]]


def _lines(path):
    """Yields the lines of a UTF-8 file (ends kept, a leading byte-order mark dropped).

    Lines end at "\\n" only, as Google's `tf.gfile` reads them.

    Raises:
      InputError: the file cannot be opened, or a line is not UTF-8.
    """
    try:
        handle = open(path, "rb")
    except OSError as error:
        raise InputError(f"{path}: cannot read the file ({error.strerror})") from None
    with handle:
        for line_number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise InputError(f"{path} line {line_number}: not UTF-8 text (byte {error.start} of the line)") \
                    from None
            yield line.removeprefix("\ufeff") if line_number == 1 else line


def _records(path, delimiter="\t", quotechar=None):
    """Yields (line number where the record starts, its fields) for each record of a delimited file.

    With quotechar=None (TSV, as Google reads it) quotes are ordinary characters and each
    line is one record; CSV passes quotechar='"', so a quoted field may span lines.
    """
    reader = csv.reader(_lines(path), delimiter=delimiter, quotechar=quotechar)
    start = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            # Drop csv's hint about universal-newline mode: lines end at "\n" here on purpose.
            raise InputError(f"{path} line {reader.line_num}: {str(error).split(' - ')[0]}") from None
        yield start, fields
        start = reader.line_num + 1


def _score(text, path, line_number):
    """The STS-B similarity score in `text` as a float; InputError when it is not a finite number."""
    try:
        score = float(text)
    except ValueError:
        score = math.nan
    if not math.isfinite(score):
        raise InputError(f"{path} line {line_number}: score {text!r} is not a number")
    return score


@dataclasses.dataclass(frozen=True)
class Split:
    """Where one released file of a GLUE-style task keeps each example's fields.

    Column indices count from 0; label=-1 is the last column, which must come after all
    the others (MNLI's train and dev files have different numbers of annotator columns).

    Attributes:
      file_name: relative to the data folder.
      guid_prefix: a guid is "<guid_prefix>-<id>".
      has_header: the first line names the columns and is skipped.
      text_a, text_b: the text columns (text_b None for single-sentence tasks).
      label: the label column, None for an unlabeled test file.
      guid_column: the column holding the id, or None: the id is the row's index in the
        file, the header being row 0 (Google's `enumerate(lines)`).
      language_column: if set, only rows whose value there is the processor's language count.
      rename_labels: (label in the file, label used) pairs.
    """

    file_name: str
    guid_prefix: str
    has_header: bool
    text_a: int
    text_b: Optional[int] = None
    label: Optional[int] = None
    guid_column: Optional[int] = None
    language_column: Optional[int] = None
    rename_labels: tuple = ()

    def columns_needed(self):
        """The fewest columns a row must have to hold every field read."""
        used = [self.text_a, self.text_b, self.label, self.guid_column, self.language_column]
        needed = max(index for index in used if index is not None and index >= 0) + 1
        return needed + 1 if self.label == -1 else needed


class GlueProcessor:
    """Reads one GLUE-style task's train, dev and test TSV files into `InputExample`s.

    Args:
      name: the task's name in messages, e.g. "MRPC".
      label_list: the label strings in the order of the classifier's outputs, or None for
        a regression task (STS-B: labels are float scores).
      train, dev, test: the `Split` of each file.
      language: the value rows must have in a split's `language_column` (XNLI).
    """

    def __init__(self, name, label_list, train, dev, test, language=None):
        self.name = name
        self.is_regression = label_list is None
        self._labels = None if label_list is None else tuple(label_list)
        self._splits = {"train": train, "dev": dev, "test": test}
        self.language = language

    def labels(self):
        """The label strings, index i being the classifier's output i; None for regression."""
        return None if self._labels is None else list(self._labels)

    def train_examples(self, data_dir):
        """The examples of the training file in `data_dir`, in file order."""
        return self._read(data_dir, self._splits["train"])

    def dev_examples(self, data_dir):
        """The examples of the dev (evaluation) file in `data_dir`, in file order."""
        return self._read(data_dir, self._splits["dev"])

    def test_examples(self, data_dir):
        """The examples of the test (prediction) file in `data_dir`, in file order."""
        return self._read(data_dir, self._splits["test"])

    def _read(self, data_dir, split):
        path = os.path.join(data_dir, split.file_name)
        needed = split.columns_needed()
        examples = []
        for line_number, row in _records(path):
            if split.has_header and line_number == 1:
                continue
            if len(row) < needed:
                raise InputError(f"{path} line {line_number}: {len(row)} columns, "
                                 f"{self.name} needs at least {needed}")
            if split.language_column is not None and row[split.language_column] != self.language:
                continue
            row_id = row[split.guid_column] if split.guid_column is not None else line_number - 1
            examples.append(InputExample(guid=f"{split.guid_prefix}-{row_id}", text_a=row[split.text_a],
                                         text_b=None if split.text_b is None else row[split.text_b],
                                         label=self._label(split, row, path, line_number)))
        if not examples:
            language = "" if split.language_column is None else f" in language {self.language!r}"
            raise InputError(f"{path}: no examples{language}")
        return examples

    def _label(self, split, row, path, line_number):
        """The row's label: None in an unlabeled file, the score for regression, else one of `labels()`."""
        if split.label is None:
            return None
        text = dict(split.rename_labels).get(row[split.label], row[split.label])
        if self.is_regression:
            return _score(text, path, line_number)
        if text not in self._labels:
            raise InputError(f"{path} line {line_number}: label {text!r} is not one of {', '.join(self._labels)}")
        return text


def _cola():
    # Only CoLA's test file has a header: index, sentence.
    return GlueProcessor("CoLA", BINARY_LABELS,
                         train=Split("train.tsv", "train", False, text_a=3, label=1),
                         dev=Split("dev.tsv", "dev", False, text_a=3, label=1),
                         test=Split("test.tsv", "test", True, text_a=1))


def _sst2():
    return GlueProcessor("SST-2", BINARY_LABELS,
                         train=Split("train.tsv", "train", True, text_a=0, label=1),
                         dev=Split("dev.tsv", "dev", True, text_a=0, label=1),
                         test=Split("test.tsv", "test", True, text_a=1))


def _mrpc():
    return GlueProcessor("MRPC", BINARY_LABELS,
                         train=Split("train.tsv", "train", True, text_a=3, text_b=4, label=0),
                         dev=Split("dev.tsv", "dev", True, text_a=3, text_b=4, label=0),
                         test=Split("test.tsv", "test", True, text_a=3, text_b=4))


def _stsb():
    return GlueProcessor("STS-B", None,
                         train=Split("train.tsv", "train", True, text_a=7, text_b=8, label=9, guid_column=0),
                         dev=Split("dev.tsv", "dev", True, text_a=7, text_b=8, label=9, guid_column=0),
                         test=Split("test.tsv", "test", True, text_a=7, text_b=8, guid_column=0))


def _qqp():
    return GlueProcessor("QQP", BINARY_LABELS,
                         train=Split("train.tsv", "train", True, text_a=3, text_b=4, label=5, guid_column=0),
                         dev=Split("dev.tsv", "dev", True, text_a=3, text_b=4, label=5, guid_column=0),
                         test=Split("test.tsv", "test", True, text_a=1, text_b=2, guid_column=0))


def _mnli(dev_file, dev_prefix, test_file, test_prefix):
    return GlueProcessor("MNLI", NLI_LABELS,
                         train=Split("train.tsv", "train", True, text_a=8, text_b=9, label=-1, guid_column=0),
                         dev=Split(dev_file, dev_prefix, True, text_a=8, text_b=9, label=-1, guid_column=0),
                         test=Split(test_file, test_prefix, True, text_a=8, text_b=9, guid_column=0))


def _sentence_pairs(name, label_list):
    """QNLI, RTE, WNLI: columns index, sentence 1, sentence 2, label."""
    return GlueProcessor(name, label_list,
                         train=Split("train.tsv", "train", True, text_a=1, text_b=2, label=3, guid_column=0),
                         dev=Split("dev.tsv", "dev", True, text_a=1, text_b=2, label=3, guid_column=0),
                         test=Split("test.tsv", "test", True, text_a=1, text_b=2, guid_column=0))


def _xnli(xnli_language="zh"):
    """XNLI in one language: MultiNLI's machine-translated train file, XNLI's dev and test rows."""
    return GlueProcessor("XNLI", NLI_LABELS, language=xnli_language,
                         train=Split(f"multinli/multinli.train.{xnli_language}.tsv", "train", True,
                                     text_a=0, text_b=1, label=2,
                                     rename_labels=(("contradictory", "contradiction"),)),
                         dev=Split("xnli.dev.tsv", "dev", True, text_a=6, text_b=7, label=1, language_column=0),
                         test=Split("xnli.test.tsv", "test", True, text_a=6, text_b=7, label=1, language_column=0))


class ColumnsProcessor:
    """Reads train.<ext>, dev.<ext> and test.<ext> with named columns: a task of your own.

    CSV and TSV files start with a header row naming the columns, and every row has as
    many columns as the header. CSV uses the standard double-quote quoting; TSV is read as
    Google reads TSV (quotes are literal). In a JSON-lines file each non-blank line is an
    object, and columns are its keys; texts must be strings, labels strings or integers.

    The labels are the sorted set of the training file's labels (strings). The dev file's
    labels must be among them; the test file needs no label column (its labels are None).
    A guid is "<split>-<line where the record starts>".

    Args:
      file_format: "csv", "tsv" or "jsonl".
      text_a_column: the column of the first (or only) text.
      label_column: the column of the label.
      text_b_column: the column of the second text of a pair task, or None.

    Raises:
      InputError: text_a_column or label_column is missing.

    Example:
        >>> processor = get_processor("csv", text_a_column="review", label_column="stars")
        >>> processor.train_examples("reviews")[0]
        InputExample(guid='train-2', text_a='Great value.', text_b=None, label='5')
        >>> processor.labels()
        ['1', '2', '3', '4', '5']
    """

    is_regression = False

    def __init__(self, file_format, text_a_column=None, label_column=None, text_b_column=None):
        for option, value in (("text_a_column", text_a_column), ("label_column", label_column)):
            if not value:
                raise InputError(f"task {file_format!r} needs the option {option} (a column name)")
        self.name = file_format
        self._columns = {"text_a": text_a_column, "text_b": text_b_column, "label": label_column}
        self._labels_dir = None  # the data folder whose train file gave self._labels
        self._labels = None

    def labels(self):
        """The sorted labels of the train file in the data folder read last (by any *_examples call).

        Raises:
          RuntimeError: no examples were read yet.
        """
        if self._labels is None:
            raise RuntimeError(f"the labels of task {self.name!r} come from train.{self.name}: read examples first")
        return list(self._labels)

    def train_examples(self, data_dir):
        """The examples of train.<ext> in `data_dir`; its labels become `labels()`."""
        examples = self._read(data_dir, "train", known_labels=None)
        self._labels_dir, self._labels = data_dir, sorted({example.label for example in examples})
        return examples

    def dev_examples(self, data_dir):
        """The examples of dev.<ext> in `data_dir`; reads train.<ext> first for the labels."""
        return self._read(data_dir, "dev", known_labels=self._labels_of(data_dir))

    def test_examples(self, data_dir):
        """The examples of test.<ext> in `data_dir` (labels None); reads train.<ext> for `labels()`."""
        self._labels_of(data_dir)
        return self._read(data_dir, "test", known_labels=None)

    def _labels_of(self, data_dir):
        if data_dir != self._labels_dir:
            self.train_examples(data_dir)
        return self._labels

    def _read(self, data_dir, split, known_labels):
        path = os.path.join(data_dir, f"{split}.{self.name}")
        wanted = {field: column for field, column in self._columns.items()
                  if column is not None and not (split == "test" and field == "label")}
        if self.name == "jsonl":
            records = _json_records(path, wanted)
        else:
            records = _table_records(path, wanted, *_DIALECTS[self.name])
        examples = []
        for line_number, values in records:
            label = values.get("label")
            if label == "":
                raise InputError(f"{path} line {line_number}: empty label")
            if known_labels is not None and label not in known_labels:
                raise InputError(f"{path} line {line_number}: label {label!r} does not occur in "
                                 f"train.{self.name} ({', '.join(known_labels)})")
            examples.append(InputExample(guid=f"{split}-{line_number}", text_a=values["text_a"],
                                         text_b=values.get("text_b"), label=label))
        if not examples:
            raise InputError(f"{path}: no examples")
        return examples


# (delimiter, quotechar) of each table format: TSV as Google reads it, CSV with standard quoting.
_DIALECTS = {"tsv": ("\t", None), "csv": (",", '"')}


def _table_records(path, wanted, delimiter, quotechar):
    """Yields (line number, {field: value}) for the rows of a CSV or TSV file with a header.

    Args:
      wanted: field -> the name of the column holding it.
    """
    records = _records(path, delimiter, quotechar)
    header = next(records, None)
    if header is None:
        raise InputError(f"{path}: no examples (the file is empty)")
    _, names = header
    for column in wanted.values():
        if column not in names:
            raise InputError(f"{path} line 1: no column {column!r} in the header ({', '.join(names)})")
    indices = {field: names.index(column) for field, column in wanted.items()}
    for line_number, row in records:
        if len(row) != len(names):
            raise InputError(f"{path} line {line_number}: {len(row)} columns, the header has {len(names)}")
        yield line_number, {field: row[index] for field, index in indices.items()}


def _json_records(path, wanted):
    """Yields (line number, {field: value}) for the non-blank lines of a JSON-lines file.

    Args:
      wanted: field -> the key holding it. Labels that are integers become strings; texts
        must be strings.
    """
    for line_number, line in enumerate(_lines(path), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"{path} line {line_number}: invalid JSON ({error.msg})") from None
        if not isinstance(record, dict):
            raise InputError(f"{path} line {line_number}: not a JSON object")
        values = {}
        for field, key in wanted.items():
            if key not in record:
                raise InputError(f"{path} line {line_number}: no key {key!r}")
            value = record[key]
            if field == "label" and isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            if not isinstance(value, str):
                kind = "a string or an integer" if field == "label" else "a string"
                raise InputError(f"{path} line {line_number}: {key!r} must be {kind}")
            values[field] = value
        yield line_number, values


def check_label_sets(train_examples, dev_examples, dev_file):
    """Compares the labels of a classification task's train and dev examples.

    Args:
      train_examples, dev_examples: lists of `InputExample`. Regression examples (float
        labels) are not compared.
      dev_file: the dev file's path, for the message.

    Returns:
      The sorted train labels that no dev example has (a caller may warn about them: the
      dev metrics then say nothing about those classes).

    Raises:
      InputError: a dev label never occurs in the training examples; the message names
        the dev file, the label and the first example (guid) with it.
    """
    train_labels = {example.label for example in train_examples}
    if any(isinstance(label, float) for label in train_labels):
        return []
    dev_labels = set()
    for example in dev_examples:
        if example.label not in train_labels:
            raise InputError(f"{dev_file}: label {example.label!r} (example {example.guid}) "
                             "never occurs in the training examples")
        dev_labels.add(example.label)
    return sorted(train_labels - dev_labels)


PROCESSORS = {
    "cola": _cola,
    "sst-2": _sst2,
    "mrpc": _mrpc,
    "sts-b": _stsb,
    "qqp": _qqp,
    "mnli": functools.partial(_mnli, "dev_matched.tsv", "dev_matched", "test_matched.tsv", "test"),
    "mnli-mm": functools.partial(_mnli, "dev_mismatched.tsv", "dev_mismatched",
                                 "test_mismatched.tsv", "test_mismatched"),
    "qnli": functools.partial(_sentence_pairs, "QNLI", RTE_LABELS),
    "rte": functools.partial(_sentence_pairs, "RTE", RTE_LABELS),
    "wnli": functools.partial(_sentence_pairs, "WNLI", BINARY_LABELS),
    "xnli": _xnli,
    "csv": functools.partial(ColumnsProcessor, "csv"),
    "tsv": functools.partial(ColumnsProcessor, "tsv"),
    "jsonl": functools.partial(ColumnsProcessor, "jsonl"),
}
_ALIASES = {"sst2": "sst-2", "stsb": "sts-b"}


def canonical_task_name(task_name):
    """The `PROCESSORS` key for `task_name`: any case, and "sst2", "stsb" for "sst-2", "sts-b".

    Raises:
      InputError: an unknown task; the message lists the valid names.
    """
    name = _ALIASES.get(task_name.lower(), task_name.lower())
    if name not in PROCESSORS:
        raise InputError(f"unknown task {task_name!r}; valid tasks: {', '.join(PROCESSORS)}")
    return name


def get_processor(task_name, **options):
    """A new processor for `task_name` (see `canonical_task_name`).

    Every processor has `train_examples(data_dir)`, `dev_examples(data_dir)`,
    `test_examples(data_dir)` (lists of `InputExample`), `labels()` (label strings, or None
    when `is_regression`), `is_regression` and `name`.

    Args:
      task_name: a key of `PROCESSORS`, in any case, or an alias.
      **options: any of `OPTIONS`: xnli_language (xnli; default "zh"), text_a_column,
        text_b_column, label_column (csv, tsv, jsonl). Options that are None, and options
        the task does not take, are ignored, so a script may pass all of its flags.

    Raises:
      InputError: an unknown task, or a csv/tsv/jsonl task without its column options.
      TypeError: an option name not in `OPTIONS` (a programming error).
    """
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise TypeError(f"unknown processor options {unknown}; known: {OPTIONS}")
    factory = PROCESSORS[canonical_task_name(task_name)]
    taken = inspect.signature(factory).parameters
    return factory(**{name: value for name, value in options.items() if name in taken and value is not None})
