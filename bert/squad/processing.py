"""SQuAD v1.1 / v2.0: read the JSON, cut it into model windows, turn logits back into answers.

The data flow follows Google's `run_squad.py`, one function per step:

    read_squad_examples      SQuAD JSON -> `SquadExample`s (whitespace-split contexts)
    convert_examples_to_features
                             examples -> `SquadFeatures`: WordPiece windows
                             `[CLS] question [SEP] document window [SEP]` with the
                             sliding-window (`doc_stride`) and "max context" bookkeeping
    SquadFeatures.arrays / write_tfrecord / read_tfrecord
                             windows -> int32 arrays, TFRecords or a `tf.data.Dataset`
    compute_predictions      per-window start/end logits -> answer text per question
    write_predictions        predictions.json, nbest_predictions.json, null_odds.json

Windows, positions and answer texts are the ones Google's code produces. Differences:
a training answer whose `answer_start` does not point at its text is an `InputError`
(Google skipped it with a warning), an answer that does match its context exactly is
kept even when it contains a non-breaking space (Google skipped those too), and when
the answer cannot be aligned character by character with the original text, the text
is cut from the original document with the tokenizer's character offsets (Google
returned the whole whitespace tokens around the answer).

Example:
    >>> tokenizer = tokenization.FullTokenizer("vocab.txt", do_lower_case=True)
    >>> examples = read_squad_examples("dev-v1.1.json", is_training=False)
    >>> features = convert_examples_to_features(
    ...     examples, tokenizer, max_seq_length=384, doc_stride=128,
    ...     max_query_length=64, is_training=False)
    >>> inputs = features.arrays()             # {"input_ids": [N, 384] int32, ...}
    >>> start_logits, end_logits = model.predict(inputs)   # [N, 384] each
    >>> result = compute_predictions(examples, features, start_logits, end_logits)
    >>> write_predictions(result, "results/")  # predictions.json, nbest_predictions.json
"""

import collections
import dataclasses
import functools
import itertools
import json
import math
import os
import re

import numpy as np
from tokenizers import normalizers, pre_tokenizers

from bert.pretraining import tfrecord_writer
from bert import files
from bert.errors import InputError

# Google's `is_whitespace` for splitting contexts: these five characters and no others.
_DOC_TOKEN = re.compile("[^ \t\r\n\u202f]+")
_DOC_WHITESPACE = " \t\r\n\u202f"

FIRST_UNIQUE_ID = 1000000000
PREDICTIONS_FILE = "predictions.json"
NBEST_FILE = "nbest_predictions.json"
NULL_ODDS_FILE = "null_odds.json"


# ----------------------------------------------------------------------------------
# Reading SQuAD JSON
# ----------------------------------------------------------------------------------


@dataclasses.dataclass
class SquadExample:
    """One question about one context.

    `doc_tokens` and `char_to_word_offset` are shared (same objects) by all questions
    of a paragraph. `char_to_word_offset[c]` is the index of the document token that
    holds context character `c` (for whitespace: of the token before it; -1 before the
    first token). Training examples carry the answer as document-token positions,
    inclusive; impossible (v2) questions have positions -1 and an empty answer text.
    """

    qas_id: str
    question_text: str
    doc_tokens: list
    char_to_word_offset: np.ndarray = dataclasses.field(repr=False)
    orig_answer_text: str = None
    start_position: int = None
    end_position: int = None
    is_impossible: bool = False


def split_document(text):
    """Splits a context on Google's whitespace.

    Returns:
        (doc_tokens, char_to_word_offset): the list of tokens and an int32 array
        [len(text)] giving, for each character, the index of its token (see
        `SquadExample`).
    """
    matches = list(_DOC_TOKEN.finditer(text))
    starts_token = np.zeros(len(text), dtype=np.int32)
    starts_token[[match.start() for match in matches]] = 1
    char_to_word_offset = np.cumsum(starts_token, dtype=np.int32) - 1
    return [match.group() for match in matches], char_to_word_offset


def read_squad_examples(input_file, is_training):
    """Reads a SQuAD v1.1 or v2.0 JSON file into a list of `SquadExample`s.

    Args:
        input_file: path of the JSON file.
        is_training: read the answers too. Each answerable question must then have
            exactly one answer whose `answer_start` points at its `text`; v2
            questions with `"is_impossible": true` need none (`plausible_answers` is
            ignored). Without training, answers are not read.

    Returns:
        The examples in file order.

    Raises:
        InputError: unreadable or malformed JSON, a missing or mistyped field, an
            answer that does not match its context, or a repeated question id. The
            message names the file and the field or question id.
    """
    data = _load_squad_json(input_file)
    examples = []
    seen_ids = {}
    for article_number, article in enumerate(data):
        where = f"{input_file}: data[{article_number}]"
        paragraphs = _field(article, "paragraphs", list, where)
        for paragraph_number, paragraph in enumerate(paragraphs):
            where = f"{input_file}: data[{article_number}].paragraphs[{paragraph_number}]"
            context = _field(paragraph, "context", str, where)
            questions = _field(paragraph, "qas", list, where)
            doc_tokens, char_to_word_offset = split_document(context)
            if questions and not doc_tokens:
                raise InputError(f"{where}: 'context' is empty")
            for question_number, qa in enumerate(questions):
                where_qa = f"{where}.qas[{question_number}]"
                qas_id = _field(qa, "id", str, where_qa)
                where_qa = f"{input_file}: question id '{qas_id}'"
                if qas_id in seen_ids:
                    raise InputError(f"{where_qa}: duplicate question id (first seen at {seen_ids[qas_id]})")
                seen_ids[qas_id] = f"data[{article_number}].paragraphs[{paragraph_number}].qas[{question_number}]"
                example = SquadExample(
                    qas_id=qas_id,
                    question_text=_field(qa, "question", str, where_qa),
                    doc_tokens=doc_tokens,
                    char_to_word_offset=char_to_word_offset,
                )
                if is_training:
                    _read_training_answer(example, qa, context, where_qa)
                examples.append(example)
    return examples


def _load_squad_json(input_file):
    try:
        with open(input_file, encoding="utf-8") as f:
            dataset = json.load(f)
    except OSError as error:
        raise InputError(f"{input_file}: cannot read SQuAD file ({error.strerror or error})") from None
    except UnicodeDecodeError as error:
        raise InputError(f"{input_file}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise InputError(
            f"{input_file}: malformed JSON ({error.msg} at line {error.lineno} column {error.colno})") from None
    return _field(dataset, "data", list, input_file)


_JSON_TYPE_NAMES = {dict: "an object", list: "an array", str: "a string", int: "an integer",
                    float: "a number", bool: "true or false", type(None): "null"}


def _field(record, name, expected_type, where):
    """`record[name]`, checked to be present and of `expected_type`."""
    if not isinstance(record, dict):
        raise InputError(f"{where}: expected a JSON object, found {_json_type(record)}")
    if name not in record:
        raise InputError(f"{where}: missing field '{name}'")
    value = record[name]
    if not isinstance(value, expected_type) or (expected_type is int and isinstance(value, bool)):
        raise InputError(f"{where}: field '{name}' must be {_JSON_TYPE_NAMES[expected_type]}, "
                         f"found {_json_type(value)}")
    return value


def _json_type(value):
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def _read_training_answer(example, qa, context, where):
    """Sets the answer fields of a training example from its JSON record `qa`."""
    example.is_impossible = qa.get("is_impossible", False)
    if not isinstance(example.is_impossible, bool):
        raise InputError(f"{where}: field 'is_impossible' must be true or false")
    if example.is_impossible:
        example.orig_answer_text, example.start_position, example.end_position = "", -1, -1
        return
    answers = _field(qa, "answers", list, where)
    if len(answers) != 1:
        raise InputError(f"{where}: a training question needs exactly 1 answer, found {len(answers)}")
    text = _field(answers[0], "text", str, f"{where}: answers[0]")
    answer_start = _field(answers[0], "answer_start", int, f"{where}: answers[0]")
    if not text.strip(_DOC_WHITESPACE):
        raise InputError(f"{where}: answer text is empty")
    answer_end = answer_start + len(text)  # exclusive
    if not 0 <= answer_start < answer_end <= len(context):
        raise InputError(
            f"{where}: answer_start {answer_start} + length {len(text)} lies outside the context "
            f"({len(context)} characters)")
    # Positions of the answer's first and last non-whitespace characters.
    first = answer_start + (len(text) - len(text.lstrip(_DOC_WHITESPACE)))
    last = answer_end - 1 - (len(text) - len(text.rstrip(_DOC_WHITESPACE)))
    start_position = int(example.char_to_word_offset[first])
    end_position = int(example.char_to_word_offset[last])
    # Google's test: the whitespace-normalised answer occurs in the tokens it points at.
    covered = " ".join(example.doc_tokens[start_position:end_position + 1])
    if context[answer_start:answer_end] != text and " ".join(text.split()) not in covered:
        raise InputError(
            f"{where}: answer text {text!r} does not match the context at answer_start {answer_start} "
            f"(the context there reads {context[answer_start:answer_end]!r})")
    example.orig_answer_text = text
    example.start_position = start_position
    example.end_position = end_position


# ----------------------------------------------------------------------------------
# Featurizing: WordPiece windows
# ----------------------------------------------------------------------------------


@dataclasses.dataclass
class TokenizedDocument:
    """The WordPiece sub-tokens of one context, with maps to its whitespace tokens.

    All arrays are int32. Sub-token `t` comes from document token `tok_to_orig_index[t]`;
    `orig_to_tok_index[i]` is the first sub-token of document token `i`.
    """

    sub_token_ids: np.ndarray
    tok_to_orig_index: np.ndarray
    orig_to_tok_index: np.ndarray


@dataclasses.dataclass
class FeatureWindow:
    """One window in the form of Google's `InputFeatures` (for inspection and logging).

    `token_to_orig_map` and `token_is_max_context` are keyed by position in `tokens`
    and hold the document positions only.
    """

    unique_id: int
    example_index: int
    doc_span_index: int
    tokens: list
    input_ids: list
    input_mask: list
    segment_ids: list
    token_to_orig_map: dict
    token_is_max_context: dict
    start_position: int = None
    end_position: int = None
    is_impossible: bool = False


@dataclasses.dataclass
class SquadFeatures:
    """All windows of all examples, stored compactly; `arrays()` builds model inputs.

    Window `i` is `[CLS] query [SEP] document[doc_start[i] : doc_start[i] + doc_length[i]]
    [SEP]` with the query and document taken from its example; windows come grouped by
    example, in example order, and `example_feature_offsets[e]:example_feature_offsets[e + 1]`
    are the windows of example `e`. Per-window arrays have shape [num_features];
    `start_positions` / `end_positions` (training only) index into the window, 0 being
    [CLS] (answer outside the window, or impossible question).
    """

    max_seq_length: int
    is_training: bool
    tokenizer: object = dataclasses.field(repr=False)
    unique_ids: np.ndarray
    example_index: np.ndarray
    doc_span_index: np.ndarray
    doc_start: np.ndarray
    doc_length: np.ndarray
    query_length: np.ndarray
    start_positions: np.ndarray
    end_positions: np.ndarray
    is_impossible: np.ndarray
    example_feature_offsets: np.ndarray = dataclasses.field(repr=False)
    query_ids: list = dataclasses.field(repr=False)  # [num_examples] int32 arrays
    document_of_example: np.ndarray = dataclasses.field(repr=False)
    documents: list = dataclasses.field(repr=False)  # TokenizedDocument per distinct context

    def __len__(self):
        return len(self.unique_ids)

    @property
    def do_lower_case(self):
        return self.tokenizer.do_lower_case

    @property
    def num_examples(self):
        return len(self.document_of_example)

    def document(self, example_index):
        return self.documents[self.document_of_example[example_index]]

    def arrays(self, start=0, stop=None):
        """Model inputs for windows `start:stop` as a dict of int32 numpy arrays.

        Returns:
            `unique_ids` [n], `input_ids`, `input_mask`, `segment_ids` [n, max_seq_length]
            (zero-padded), and when training also `start_positions`, `end_positions`,
            `is_impossible` [n]. Ready for `tf.data.Dataset.from_tensor_slices`.
        """
        rows = range(len(self))[start:stop]
        seq = self.max_seq_length
        cls_id, sep_id = self.tokenizer.vocab["[CLS]"], self.tokenizer.vocab["[SEP]"]
        input_ids = np.zeros((len(rows), seq), dtype=np.int32)
        for row, i in enumerate(rows):
            query = self.query_ids[self.example_index[i]]
            doc_ids = self.document(self.example_index[i]).sub_token_ids
            q, ds, dl = len(query), self.doc_start[i], self.doc_length[i]
            input_ids[row, 0] = cls_id
            input_ids[row, 1:q + 1] = query
            input_ids[row, q + 1] = sep_id
            input_ids[row, q + 2:q + 2 + dl] = doc_ids[ds:ds + dl]
            input_ids[row, q + 2 + dl] = sep_id
        positions = np.arange(seq, dtype=np.int32)[None, :]
        used = (self.query_length[rows.start:rows.stop] + self.doc_length[rows.start:rows.stop] + 3)[:, None]
        doc_begin = (self.query_length[rows.start:rows.stop] + 2)[:, None]
        result = {
            "unique_ids": self.unique_ids[rows.start:rows.stop].copy(),
            "input_ids": input_ids,
            "input_mask": (positions < used).astype(np.int32),
            "segment_ids": ((positions >= doc_begin) & (positions < used)).astype(np.int32),
        }
        if self.is_training:
            for name in ("start_positions", "end_positions", "is_impossible"):
                result[name] = getattr(self, name)[rows.start:rows.stop].astype(np.int32)
        return result

    def max_context_span(self, example_index):
        """For each sub-token of the example's document, the doc span giving it most context.

        Google's rule: a token's score in a window is min(tokens left of it, tokens
        right of it) + 0.01 * window length; the first window with the highest score
        wins. Returns an int array [num_sub_tokens] of `doc_span_index` values.
        """
        first, last = self.example_feature_offsets[example_index:example_index + 2]
        num_sub_tokens = len(self.document(example_index).sub_token_ids)
        scores = np.full((last - first, num_sub_tokens), -np.inf)
        for span, i in enumerate(range(first, last)):
            begin, length = self.doc_start[i], self.doc_length[i]
            position = np.arange(begin, begin + length)
            left, right = position - begin, begin + length - 1 - position
            scores[span, begin:begin + length] = np.minimum(left, right) + 0.01 * length
        return np.argmax(scores, axis=0)

    def window(self, i):
        """Window `i` as a `FeatureWindow` (Google's `InputFeatures` fields)."""
        e = int(self.example_index[i])
        document = self.document(e)
        inputs = self.arrays(i, i + 1)
        used = int(inputs["input_mask"].sum())
        offset = int(self.query_length[i]) + 2
        owner = self.max_context_span(e)
        token_to_orig_map, token_is_max_context = {}, {}
        for k in range(int(self.doc_length[i])):
            sub_token = int(self.doc_start[i]) + k
            token_to_orig_map[offset + k] = int(document.tok_to_orig_index[sub_token])
            token_is_max_context[offset + k] = bool(owner[sub_token] == self.doc_span_index[i])
        input_ids = inputs["input_ids"][0].tolist()
        window = FeatureWindow(
            unique_id=int(self.unique_ids[i]),
            example_index=e,
            doc_span_index=int(self.doc_span_index[i]),
            tokens=self.tokenizer.convert_ids_to_tokens(input_ids[:used]),
            input_ids=input_ids,
            input_mask=inputs["input_mask"][0].tolist(),
            segment_ids=inputs["segment_ids"][0].tolist(),
            token_to_orig_map=token_to_orig_map,
            token_is_max_context=token_is_max_context,
        )
        if self.is_training:
            window.start_position = int(self.start_positions[i])
            window.end_position = int(self.end_positions[i])
            window.is_impossible = bool(self.is_impossible[i])
        return window


def convert_examples_to_features(examples, tokenizer, max_seq_length, doc_stride, max_query_length, is_training):
    """Cuts every example into windows of `max_seq_length` WordPiece tokens.

    The question keeps its first `max_query_length` tokens; the document is covered
    by windows of `max_seq_length - len(question) - 3` tokens, each starting
    `doc_stride` tokens after the previous one, the last one ending at the document's
    end. For training, the answer span is narrowed to the tokens of the answer text
    (Google's `_improve_answer_span`), and points at [CLS] in windows that do not hold
    all of it.

    Sub-tokens are exactly `tokenizer.tokenize(doc_token)` for each whitespace token.
    Questions and answers are tokenized the same way, token by token, which equals
    `tokenizer.tokenize(text)` since the tokenizer splits at every character the
    document reader splits at. Each distinct token is tokenized once, all in one call
    of the Rust batch encoder.

    Args:
        examples: `SquadExample`s from `read_squad_examples`.
        tokenizer: a `tokenization.FullTokenizer`.
        max_seq_length, doc_stride, max_query_length: in WordPiece tokens.
        is_training: compute `start_positions` / `end_positions` from the answers.

    Returns:
        `SquadFeatures`, unique ids counting up from 1000000000.

    Raises:
        InputError: the lengths leave no room for the document.
    """
    if max_seq_length <= max_query_length + 3:
        raise InputError(
            f"max_seq_length ({max_seq_length}) must exceed max_query_length ({max_query_length}) + 3 "
            "to leave room for the document")
    if doc_stride < 1:
        raise InputError(f"doc_stride must be positive, got {doc_stride}")
    documents, document_of_example, query_ids, answer_ids = _tokenize_examples(examples, tokenizer, is_training)
    query_ids = [ids[:max_query_length] for ids in query_ids]

    columns = collections.defaultdict(list)
    example_feature_offsets = [0]
    for example_index, example in enumerate(examples):
        document = documents[document_of_example[example_index]]
        num_sub_tokens = len(document.sub_token_ids)
        query_length = len(query_ids[example_index])
        max_tokens_for_doc = max_seq_length - query_length - 3
        if is_training and not example.is_impossible:
            answer_start, answer_end = _answer_sub_tokens(example, document, answer_ids[example_index])
        span_start, span_index = 0, 0
        while span_start < num_sub_tokens:
            length = min(num_sub_tokens - span_start, max_tokens_for_doc)
            columns["example_index"].append(example_index)
            columns["doc_span_index"].append(span_index)
            columns["doc_start"].append(span_start)
            columns["doc_length"].append(length)
            columns["query_length"].append(query_length)
            start_position = end_position = 0
            if is_training and not example.is_impossible:
                if span_start <= answer_start and answer_end < span_start + length:
                    start_position = answer_start - span_start + query_length + 2
                    end_position = answer_end - span_start + query_length + 2
            columns["start_positions"].append(start_position)
            columns["end_positions"].append(end_position)
            columns["is_impossible"].append(bool(is_training and example.is_impossible))
            if span_start + length == num_sub_tokens:
                break
            span_start += min(length, doc_stride)
            span_index += 1
        example_feature_offsets.append(len(columns["example_index"]))

    num_features = example_feature_offsets[-1]
    column = {name: np.asarray(columns[name], dtype=np.int32) for name in (
        "example_index", "doc_span_index", "doc_start", "doc_length", "query_length",
        "start_positions", "end_positions")}
    return SquadFeatures(
        max_seq_length=max_seq_length,
        is_training=is_training,
        tokenizer=tokenizer,
        unique_ids=np.arange(FIRST_UNIQUE_ID, FIRST_UNIQUE_ID + num_features, dtype=np.int32),
        is_impossible=np.asarray(columns["is_impossible"], dtype=bool),
        example_feature_offsets=np.asarray(example_feature_offsets, dtype=np.int64),
        query_ids=query_ids,
        document_of_example=document_of_example,
        documents=documents,
        **column,
    )


def _tokenize_examples(examples, tokenizer, is_training):
    """WordPiece ids of every context, question and (training) answer.

    Contexts are identified by their `doc_tokens` object, so a paragraph's questions
    share one `TokenizedDocument`.

    Returns:
        (documents, document_of_example, query_ids, answer_ids): the distinct contexts'
        `TokenizedDocument`s, the index of each example's context in them (int32
        [num_examples]), and per example the int32 ids of its question and of its
        answer (None unless training).
    """
    document_of_key, token_lists, document_of_example = {}, [], []
    for example in examples:
        key = id(example.doc_tokens)
        if key not in document_of_key:
            document_of_key[key] = len(token_lists)
            token_lists.append(example.doc_tokens)
        document_of_example.append(document_of_key[key])
    num_documents = len(token_lists)
    questions = list(dict.fromkeys(example.question_text for example in examples))
    token_lists += [_DOC_TOKEN.findall(text) for text in questions]
    if is_training:
        answers = list(dict.fromkeys(example.orig_answer_text or "" for example in examples))
        token_lists += [_DOC_TOKEN.findall(text) for text in answers]
    ids, piece_counts = _tokenize_token_lists(token_lists, tokenizer)

    documents = []
    for doc_ids, counts in zip(ids[:num_documents], piece_counts[:num_documents]):
        documents.append(TokenizedDocument(
            sub_token_ids=doc_ids,
            tok_to_orig_index=np.repeat(np.arange(len(counts), dtype=np.int32), counts),
            orig_to_tok_index=(np.cumsum(counts) - counts).astype(np.int32),
        ))
    ids_of_question = dict(zip(questions, ids[num_documents:num_documents + len(questions)]))
    query_ids = [ids_of_question[example.question_text] for example in examples]
    answer_ids = None
    if is_training:
        ids_of_answer = dict(zip(answers, ids[num_documents + len(questions):]))
        answer_ids = [ids_of_answer[example.orig_answer_text or ""] for example in examples]
    return documents, np.asarray(document_of_example, dtype=np.int32), query_ids, answer_ids


def _tokenize_token_lists(token_lists, tokenizer):
    """`tokenizer.tokenize` of every token of every list, each distinct token encoded once.

    Returns:
        (ids, piece_counts): per list, an int32 array of the concatenated sub-token ids
        and an int64 array of the number of sub-tokens of each of its tokens.
    """
    distinct = list(dict.fromkeys(itertools.chain.from_iterable(token_lists)))
    number_of_token = {token: number for number, token in enumerate(distinct)}
    numbers = np.fromiter(map(number_of_token.__getitem__, itertools.chain.from_iterable(token_lists)),
                          dtype=np.int64)
    encoded = tokenizer.batch_token_ids(distinct)
    counts = np.fromiter((len(token_ids) for token_ids in encoded), dtype=np.int64, count=len(encoded))
    flat_ids = np.fromiter(itertools.chain.from_iterable(encoded), dtype=np.int32, count=int(counts.sum()))

    piece_counts = counts[numbers]  # [all token occurrences]
    first_piece = np.cumsum(piece_counts) - piece_counts
    total = int(piece_counts.sum())
    # Position of each output sub-token in `flat_ids`.
    source = np.repeat((np.cumsum(counts) - counts)[numbers] - first_piece, piece_counts) + np.arange(total)
    ids = flat_ids[source]

    token_bounds = np.cumsum([len(tokens) for tokens in token_lists])[:-1]
    piece_bounds = np.append(first_piece, total)[token_bounds]
    return np.split(ids, piece_bounds), np.split(piece_counts, token_bounds)


def _answer_sub_tokens(example, document, answer_ids):
    """The answer's first and last sub-token, narrowed to the tokenized answer text.

    Document tokens are coarser than sub-tokens: for "(1895-1943)." with answer
    "1895" the whole token is the span. Like Google's `_improve_answer_span`, take the
    first sub-token range inside it that equals the tokenized answer, if any.
    """
    orig_to_tok = document.orig_to_tok_index
    tok_start = int(orig_to_tok[example.start_position])
    if example.end_position < len(example.doc_tokens) - 1:
        tok_end = int(orig_to_tok[example.end_position + 1]) - 1
    else:
        tok_end = len(document.sub_token_ids) - 1
    span, answer = document.sub_token_ids[tok_start:tok_end + 1].tolist(), answer_ids.tolist()
    if answer:
        for offset in range(len(span) - len(answer) + 1):
            if span[offset:offset + len(answer)] == answer:
                return tok_start + offset, tok_start + offset + len(answer) - 1
    return tok_start, tok_end


# ----------------------------------------------------------------------------------
# TFRecords with Google's feature names
# ----------------------------------------------------------------------------------


def write_tfrecord(features, path, chunk_size=4096):
    """Writes the windows as `tf.train.Example`s with Google's `run_squad.py` feature names.

    Every record has `unique_ids`, `input_ids`, `input_mask`, `segment_ids`; training
    records also `start_positions`, `end_positions`, `is_impossible`. The file appears
    at `path` only when complete.

    Returns:
        The number of records written.
    """
    with tfrecord_writer.AtomicShardWriter(path) as writer:
        for start in range(0, len(features), chunk_size):
            chunk = features.arrays(start, start + chunk_size)
            columns = {name: values.reshape(len(values), -1) for name, values in chunk.items()}
            writer.write_records(*tfrecord_writer.serialize_examples(columns))
    return len(features)


def read_tfrecord(path, max_seq_length, is_training):
    """A `tf.data.Dataset` of one int32 feature dict per record written by `write_tfrecord`."""
    import tensorflow as tf  # here only, so reading, featurizing and post-processing stay light

    names = {
        "unique_ids": [],
        "input_ids": [max_seq_length],
        "input_mask": [max_seq_length],
        "segment_ids": [max_seq_length],
    }
    if is_training:
        names.update(start_positions=[], end_positions=[], is_impossible=[])
    schema = {name: tf.io.FixedLenFeature(shape, tf.int64) for name, shape in names.items()}

    def decode(record):
        parsed = tf.io.parse_single_example(record, schema)
        return {name: tf.cast(value, tf.int32) for name, value in parsed.items()}

    return tf.data.TFRecordDataset(path).map(decode, num_parallel_calls=tf.data.AUTOTUNE)


# ----------------------------------------------------------------------------------
# Post-processing: logits -> answer texts
# ----------------------------------------------------------------------------------


@dataclasses.dataclass
class SquadPredictions:
    """What the three SQuAD output files hold, keyed by question id in example order.

    `predictions`: id -> answer text ("" for no answer).
    `nbest`: id -> list of {"text", "probability", "start_logit", "end_logit"}, best first.
    `null_odds`: v2 only (else None): id -> null score minus best non-null score.
    """

    predictions: dict
    nbest: dict
    null_odds: dict = None


def compute_predictions(examples, features, start_logits, end_logits, unique_ids=None, n_best_size=20,
                        max_answer_length=30, version_2_with_negative=False, null_score_diff_threshold=0.0):
    """Turns per-window logits into each question's answer, as Google's `write_predictions`.

    Candidate spans of a window pair one of its `n_best_size` highest start logits
    with one of its `n_best_size` highest end logits, both inside the document part,
    start <= end, at most `max_answer_length` tokens, and the start token having its
    maximum context in this window. Candidates of all windows are ranked by start +
    end logit; the top `n_best_size` distinct texts form the n-best list with softmax
    probabilities. A span's text is cut from the original context (see `span_text`).

    With `version_2_with_negative`, the null answer scores start + end logit at [CLS]
    (lowest over the windows) and is predicted ("") when it beats the best non-null
    candidate by more than `null_score_diff_threshold`.

    Args:
        examples, features: as passed to and returned by `convert_examples_to_features`.
        start_logits, end_logits: float arrays [num_windows, max_seq_length].
        unique_ids: [num_windows] unique id of each logits row; default: the rows are
            in the order of `features`.

    Returns:
        `SquadPredictions`.

    Raises:
        ValueError: the examples or logits do not belong to `features`.
    """
    if len(examples) != features.num_examples:
        raise ValueError(f"{len(examples)} examples but the features were built from {features.num_examples}")
    start_logits = np.asarray(start_logits, dtype=np.float64)
    end_logits = np.asarray(end_logits, dtype=np.float64)
    if unique_ids is not None:
        rows = _rows_of_features(features, unique_ids)
        start_logits, end_logits = start_logits[rows], end_logits[rows]
    expected_shape = (len(features), features.max_seq_length)
    if start_logits.shape != expected_shape or end_logits.shape != expected_shape:
        raise ValueError(
            f"logits have shapes {start_logits.shape} and {end_logits.shape}, expected {expected_shape}")
    # Google's `_get_best_indexes`: highest first, ties to the lower position.
    top_starts = np.argsort(-start_logits, axis=1, kind="stable")[:, :n_best_size]
    top_ends = np.argsort(-end_logits, axis=1, kind="stable")[:, :n_best_size]

    result = SquadPredictions({}, {}, {} if version_2_with_negative else None)
    for example_index, example in enumerate(examples):
        first, last = features.example_feature_offsets[example_index:example_index + 2]
        windows = range(first, last)
        candidates = _candidate_spans(features, example_index, windows, start_logits, end_logits,
                                      top_starts, top_ends, max_answer_length)
        null = None  # (start_logit, end_logit) of the null answer
        if version_2_with_negative:
            null = (0.0, 0.0)
            if len(windows):
                lowest = first + int(np.argmin(start_logits[first:last, 0] + end_logits[first:last, 0]))
                null = (float(start_logits[lowest, 0]), float(end_logits[lowest, 0]))
        nbest = _nbest(example, features, candidates, null, n_best_size)
        probabilities = _softmax([entry[1] + entry[2] for entry in nbest])
        result.nbest[example.qas_id] = [
            {"text": text, "probability": probability, "start_logit": start, "end_logit": end}
            for (text, start, end, _), probability in zip(nbest, probabilities)]
        if not version_2_with_negative:
            result.predictions[example.qas_id] = nbest[0][0]
            continue
        best_non_null = next(entry for entry in nbest if entry[0])
        score_diff = null[0] + null[1] - best_non_null[1] - best_non_null[2]
        result.null_odds[example.qas_id] = score_diff
        is_placeholder = best_non_null[3]
        answer_is_null = is_placeholder or score_diff > null_score_diff_threshold
        result.predictions[example.qas_id] = "" if answer_is_null else best_non_null[0]
    return result


def _rows_of_features(features, unique_ids):
    """For each window of `features`, the row of `unique_ids` holding its logits."""
    row_of_id = {int(unique_id): row for row, unique_id in enumerate(np.asarray(unique_ids).reshape(-1))}
    missing = [int(u) for u in features.unique_ids if int(u) not in row_of_id]
    if missing:
        raise ValueError(f"no logits for {len(missing)} window(s), e.g. unique id {missing[0]}")
    return np.asarray([row_of_id[int(u)] for u in features.unique_ids], dtype=np.int64)


def _candidate_spans(features, example_index, windows, start_logits, end_logits, top_starts, top_ends,
                     max_answer_length):
    """Valid (window, start, end) spans of one example, in Google's order, and their logits.

    Returns:
        (window, start, end, start_logit, end_logit): five equal-length arrays.
    """
    owner = features.max_context_span(example_index) if len(windows) else None
    parts = []
    for i in windows:
        offset = int(features.query_length[i]) + 2
        length = int(features.doc_length[i])
        starts, ends = top_starts[i], top_ends[i]
        start_in_doc = (starts >= offset) & (starts < offset + length)
        sub_token = np.clip(features.doc_start[i] + starts - offset, 0, len(owner) - 1)
        start_ok = start_in_doc & (owner[sub_token] == features.doc_span_index[i])
        end_ok = (ends >= offset) & (ends < offset + length)
        span_length = ends[None, :] - starts[:, None] + 1
        valid = start_ok[:, None] & end_ok[None, :] & (span_length >= 1) & (span_length <= max_answer_length)
        start_rank, end_rank = np.nonzero(valid)  # row-major: Google's nested loop order
        start, end = starts[start_rank], ends[end_rank]
        parts.append((np.full(len(start), i), start, end, start_logits[i, start], end_logits[i, end]))
    if not parts:
        return tuple(np.zeros(0, dtype=dtype) for dtype in (np.int64,) * 3 + (np.float64,) * 2)
    return tuple(np.concatenate(column) for column in zip(*parts))


def _nbest(example, features, candidates, null, n_best_size):
    """The n-best list: (text, start_logit, end_logit, is_placeholder) tuples, best first.

    `null` is None (v1.1) or the (start_logit, end_logit) of the null answer, which
    competes as a candidate and is always listed. Google's "empty" placeholder (logits
    0) is added when no text was found, or in v2 when no non-null text was.
    """
    window, start, end, start_logit, end_logit = candidates
    scores = start_logit + end_logit
    if null is not None:  # ranked after real spans of equal score, as Google appends it last
        scores = np.append(scores, null[0] + null[1])
    nbest, seen = [], set()
    for k in np.argsort(-scores, kind="stable"):
        if len(nbest) >= n_best_size:
            break
        if k == len(window):
            nbest.append(("", null[0], null[1], False))
            seen.add("")
            continue
        text = span_text(example, features, int(window[k]), int(start[k]), int(end[k]))
        if text in seen:
            continue
        seen.add(text)
        nbest.append((text, float(start_logit[k]), float(end_logit[k]), False))
    if null is not None and "" not in seen:
        nbest.append(("", null[0], null[1], False))
    if not any(entry[0] for entry in nbest):
        nbest.append(("empty", 0.0, 0.0, True))
    return nbest


def _softmax(scores):
    if not scores:
        return []
    top = max(scores)
    exps = [math.exp(score - top) for score in scores]
    total = sum(exps)
    return [value / total for value in exps]


def span_text(example, features, window, start, end):
    """The original-document text of positions `start..end` (inclusive) of window `window`.

    Google's `get_final_text`: the de-tokenized WordPiece span ("##" pieces joined) is
    found in the basic-tokenized text of the whitespace tokens it covers and projected
    back onto their characters, so the answer keeps the document's case, accents and
    inner punctuation but not punctuation attached outside it. When that alignment
    fails ([UNK] pieces, characters whose normalisation changes length), the text is cut
    with the tokenizer's character offsets instead.
    """
    document = features.document(int(features.example_index[window]))
    offset = int(features.query_length[window]) + 2
    first = int(features.doc_start[window]) + start - offset
    last = int(features.doc_start[window]) + end - offset
    pieces = " ".join(features.tokenizer.convert_ids_to_tokens(document.sub_token_ids[first:last + 1].tolist()))
    pred_text = " ".join(pieces.replace(" ##", "").replace("##", "").split())
    orig_first, orig_last = int(document.tok_to_orig_index[first]), int(document.tok_to_orig_index[last])
    orig_tokens = example.doc_tokens[orig_first:orig_last + 1]
    tok_text = " ".join(piece for token in orig_tokens for piece in _basic_tokens(token, features.do_lower_case))
    projected = _project_onto_original(pred_text, " ".join(orig_tokens), tok_text)
    if projected is not None:
        return projected
    # Offsets of the first and last sub-token inside their whitespace tokens.
    (first_encoding, last_encoding) = features.tokenizer.encode_batch([orig_tokens[0], orig_tokens[-1]])
    char_start = first_encoding.offsets[first - int(document.orig_to_tok_index[orig_first])][0]
    char_end = last_encoding.offsets[last - int(document.orig_to_tok_index[orig_last])][1]
    if orig_first == orig_last:
        return orig_tokens[0][char_start:char_end]
    return " ".join([orig_tokens[0][char_start:]] + orig_tokens[1:-1] + [orig_tokens[-1][:char_end]])


def _project_onto_original(pred_text, orig_text, tok_text):
    """Google's `get_final_text` alignment; None where Google fell back to `orig_text`.

    `tok_text` is the basic-tokenized `orig_text`, pieces joined by spaces. The two
    texts must have the same characters apart from spaces; the span of `pred_text` in
    `tok_text` is carried over by counting non-space characters.
    """
    start = tok_text.find(pred_text)
    if start < 0 or not pred_text:
        return None
    end = start + len(pred_text) - 1
    if len(orig_text) - orig_text.count(" ") != len(tok_text) - tok_text.count(" "):
        return None
    orig_start = _position_of_non_space(orig_text, start - tok_text.count(" ", 0, start))
    orig_end = _position_of_non_space(orig_text, end - tok_text.count(" ", 0, end))
    return orig_text[orig_start:orig_end + 1]


def _position_of_non_space(text, rank):
    """Position in `text` of its non-space character number `rank` (from 0)."""
    position = 0
    for part in text.split(" "):
        if rank < len(part):
            return position + rank
        rank -= len(part)
        position += len(part) + 1
    raise ValueError(f"{text!r} has no non-space character {rank}")


@functools.lru_cache(maxsize=1 << 16)
def _basic_tokens(text, do_lower_case):
    """Google's `BasicTokenizer` pieces (cleaning, CJK split, case/accents, punctuation split)."""
    normalizer, pre_tokenizer = _basic_tokenizer(do_lower_case)
    return tuple(piece for piece, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)))


@functools.lru_cache(maxsize=None)
def _basic_tokenizer(do_lower_case):
    normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=do_lower_case, lowercase=do_lower_case)
    return normalizer, pre_tokenizers.BertPreTokenizer()


def write_predictions(result, output_dir):
    """Writes predictions.json, nbest_predictions.json and (v2) null_odds.json.

    The formats are Google's: JSON objects keyed by question id, indented by 4. Each
    file is written to a temporary file in `output_dir` and renamed into place, so a
    reader never sees a half-written file.

    Returns:
        The list of paths written.
    """
    os.makedirs(output_dir, exist_ok=True)
    outputs = [(PREDICTIONS_FILE, result.predictions), (NBEST_FILE, result.nbest)]
    if result.null_odds is not None:
        outputs.append((NULL_ODDS_FILE, result.null_odds))
    paths = []
    for name, content in outputs:
        path = os.path.join(output_dir, name)
        files.write_text_atomically(path, json.dumps(content, indent=4) + "\n")
        paths.append(path)
    return paths
