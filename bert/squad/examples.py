"""Reading SQuAD v1.1 / v2.0 JSON into `SquadExample`s: one question about one context each.

Contexts are split on Google's whitespace (`split_document`), and training answers are
turned into document-token positions, as in Google's `run_squad.py` `read_squad_examples`.
Differences: a training answer whose `answer_start` does not point at its text is an
`InputError` (Google skipped it with a warning), and an answer that does match its
context exactly is kept even when it contains a non-breaking space (Google skipped those
too). Every malformed field is an `InputError` naming the file and the field.

Example:
    >>> examples = read_squad_examples("train-v1.1.json", is_training=True)
    >>> examples[0].doc_tokens[examples[0].start_position]     # first word of the answer
"""

import dataclasses
import json
import re

import numpy as np

from bert.errors import InputError
from bert.squad.json_fields import field

# Google's `is_whitespace` for splitting contexts: these five characters and no others.
DOC_TOKEN = re.compile("[^ \t\r\n\u202f]+")
_DOC_WHITESPACE = " \t\r\n\u202f"


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
    matches = list(DOC_TOKEN.finditer(text))
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
        paragraphs = field(article, "paragraphs", list, where)
        for paragraph_number, paragraph in enumerate(paragraphs):
            where = f"{input_file}: data[{article_number}].paragraphs[{paragraph_number}]"
            context = field(paragraph, "context", str, where)
            questions = field(paragraph, "qas", list, where)
            doc_tokens, char_to_word_offset = split_document(context)
            if questions and not doc_tokens:
                raise InputError(f"{where}: 'context' is empty")
            for question_number, qa in enumerate(questions):
                where_qa = f"{where}.qas[{question_number}]"
                qas_id = field(qa, "id", str, where_qa)
                where_qa = f"{input_file}: question id '{qas_id}'"
                if qas_id in seen_ids:
                    raise InputError(f"{where_qa}: duplicate question id (first seen at {seen_ids[qas_id]})")
                seen_ids[qas_id] = f"data[{article_number}].paragraphs[{paragraph_number}].qas[{question_number}]"
                example = SquadExample(
                    qas_id=qas_id,
                    question_text=field(qa, "question", str, where_qa),
                    doc_tokens=doc_tokens,
                    char_to_word_offset=char_to_word_offset,
                )
                if is_training:
                    _read_training_answer(example, qa, context, where_qa)
                examples.append(example)
    return examples


def _load_squad_json(input_file):
    """The `data` array of a SQuAD file; InputError when the file is unreadable or not SQuAD JSON."""
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
    return field(dataset, "data", list, input_file)


def _read_training_answer(example, qa, context, where):
    """Sets the answer fields of a training example from its JSON record `qa`."""
    example.is_impossible = qa.get("is_impossible", False)
    if not isinstance(example.is_impossible, bool):
        raise InputError(f"{where}: field 'is_impossible' must be true or false")
    if example.is_impossible:
        example.orig_answer_text, example.start_position, example.end_position = "", -1, -1
        return
    answers = field(qa, "answers", list, where)
    if len(answers) != 1:
        raise InputError(f"{where}: a training question needs exactly 1 answer, found {len(answers)}")
    text = field(answers[0], "text", str, f"{where}: answers[0]")
    answer_start = field(answers[0], "answer_start", int, f"{where}: answers[0]")
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
