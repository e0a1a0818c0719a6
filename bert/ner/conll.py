"""Reading and writing CoNLL-2003-style files: one token per line, a blank line between sentences.

Columns are separated by spaces or tabs (no other whitespace, so a token may hold a
non-breaking space). The token is the first column and its tag the last, so both
`word tag` and `word POS chunk tag` files work; lines whose token is `-DOCSTART-` end the
current sentence and are skipped. Tags are `O`, `B-TYPE` or `I-TYPE`.

Tag schemes (`read_conll(scheme=...)`):
  - "bio" (IOB2): tags are kept exactly as written.
  - "iob1": converted to IOB2 with `iob1_to_iob2` (the original CoNLL-2003 files are IOB1).
  - "auto" (default): a file in which some `I-X` begins an entity is IOB1, any other is
    BIO. Since the conversion leaves a well-formed BIO file unchanged, this is the same as
    always converting; the conversion reads an ill-formed BIO file (an `I-X` after `O` or
    after another type) the way conlleval and seqeval do, with the `I-X` starting an entity.

Example:
    >>> train = read_conll("train.txt")                              # IOB1 or BIO, read as IOB2
    >>> labels = collect_labels(train)                               # ["O", "B-LOC", "I-LOC", ...]
    >>> dev = read_conll("dev.txt", labels=labels)                   # unknown tags are an InputError
    >>> test = read_conll("test.txt", labelled=False)                # tags None
    >>> write_conll("predictions.txt", dev, predicted_tags)          # `word gold pred` lines
"""

import codecs
import dataclasses
import re

from bert.errors import InputError
from bert.files import atomic_output

TAG_SCHEMES = ("auto", "bio", "iob1")
DOCSTART = "-DOCSTART-"
_COLUMN = re.compile("[^ \t\r]+")
_TAG = re.compile("O|[BI]-.+")


@dataclasses.dataclass
class Sentence:
    """One sentence of a CoNLL file.

    `words[i]` is on line `first_line + i` of the file (1-based); `tags[i]` is its IOB2 tag,
    or `tags` is None for a sentence read with `labelled=False`.
    """

    words: list
    tags: list
    first_line: int


def read_conll(path, labelled=True, scheme="auto", labels=None):
    """The sentences of the CoNLL file `path`, in file order.

    Args:
        path: a UTF-8 text file (a leading byte-order mark is ignored).
        labelled: read the tag from the last column; False reads tokens only (the first
            column, any others ignored) and gives every sentence `tags=None`.
        scheme: "auto", "bio" or "iob1" (see the module docstring).
        labels: when given, the tags allowed after conversion (e.g. `collect_labels` of
            the training file).

    Returns:
        A non-empty list of `Sentence`.

    Raises:
        InputError: the file is missing, unreadable, not UTF-8 or has no sentence; a line
            lacks a tag column; a tag is not `O`, `B-X` or `I-X`, or is not in `labels`.
            The message names the file and line.
    """
    if scheme not in TAG_SCHEMES:
        raise ValueError(f"scheme must be one of {TAG_SCHEMES}, got {scheme!r}")
    sentences = []
    words, tags, first_line = [], [], 0
    for number, line in enumerate(_read_lines(path), start=1):
        columns = _COLUMN.findall(line)
        if columns and columns[0] != DOCSTART:
            if not words:
                first_line = number
            words.append(columns[0])
            if labelled:
                tags.append(_tag(columns, path, number))
        elif words:
            sentences.append(_sentence(words, tags if labelled else None, first_line, scheme, labels, path))
            words, tags = [], []
    if words:
        sentences.append(_sentence(words, tags if labelled else None, first_line, scheme, labels, path))
    if not sentences:
        raise InputError(f"{path}: the file has no sentences")
    return sentences


def iob1_to_iob2(tags):
    """The IOB2 (BIO) form of the IOB1 tags of one sentence.

    In IOB1 an `I-X` begins an entity unless the tag before it is `B-X` or `I-X`, and
    `B-X` only marks an entity that directly follows another X entity. Each `I-X` that
    begins an entity becomes `B-X`; the other tags are kept. Well-formed IOB2 comes back
    unchanged.
    """
    converted = []
    previous_type = None  # the entity type of the previous tag, None after O
    for tag in tags:
        tag_type = None if tag == "O" else tag[2:]
        converted.append(f"B-{tag_type}" if tag.startswith("I-") and tag_type != previous_type else tag)
        previous_type = tag_type
    return converted


def collect_labels(sentences):
    """The label list for a tagger trained on `sentences`: "O", then B-X and I-X for each type X.

    Both tags of every type seen are listed (sorted by type), so a dev file may use an
    `I-X` that the training file only had as `B-X`.
    """
    types = sorted({tag[2:] for sentence in sentences for tag in sentence.tags if tag != "O"})
    return ["O"] + [f"{prefix}-{tag_type}" for tag_type in types for prefix in "BI"]


def write_conll(path, sentences, predicted_tags):
    """Writes one `word gold predicted` line per word (`word predicted` when unlabelled), atomically.

    Sentences are separated by a blank line. The gold tags are `sentence.tags` (IOB2 after
    `read_conll`'s conversion), so conlleval can score the file.

    Args:
        path: the output file (written through `bert.files.atomic_output`).
        sentences: `Sentence`s; words must not contain spaces or tabs (true of words read
            by `read_conll`).
        predicted_tags: one list of tags per sentence, one tag per word.

    Raises:
        ValueError: the number of sentences or of tags in a sentence does not match.
    """
    if len(predicted_tags) != len(sentences):
        raise ValueError(f"{len(predicted_tags)} predicted tag lists for {len(sentences)} sentences")
    blocks = []
    for sentence, predicted in zip(sentences, predicted_tags):
        if len(predicted) != len(sentence.words):
            raise ValueError(f"sentence at line {sentence.first_line}: {len(predicted)} tags "
                             f"for {len(sentence.words)} words")
        columns = (sentence.words, predicted) if sentence.tags is None else (sentence.words, sentence.tags, predicted)
        blocks.append("".join(" ".join(line) + "\n" for line in zip(*columns)))
    with atomic_output(path) as output:
        output.write("\n".join(blocks))


def _read_lines(path):
    """The lines of `path` decoded as UTF-8 (byte-order mark dropped), without line ends."""
    try:
        with open(path, "rb") as source:
            data = source.read()
    except OSError as error:
        raise InputError(f"{path}: cannot read the file ({error.strerror})") from None
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise InputError(f"{path}:{line}: not UTF-8 ({error.reason} at byte {error.start})") from None
    return text.split("\n")


def _tag(columns, path, line):
    """The tag (last column) of a labelled line, checked for the O / B-X / I-X form."""
    if len(columns) < 2:
        raise InputError(f"{path}:{line}: expected a token and a tag, found only {columns[0]!r}")
    tag = columns[-1]
    if not _TAG.fullmatch(tag):
        raise InputError(f"{path}:{line}: tag {tag!r} is not O, B-<type> or I-<type>")
    return tag


def _sentence(words, tags, first_line, scheme, labels, path):
    """A `Sentence`, its tags converted for `scheme` and checked against `labels`."""
    if tags is not None:
        if scheme != "bio":
            tags = iob1_to_iob2(tags)
        if labels is not None:
            for offset, tag in enumerate(tags):
                if tag not in labels:
                    raise InputError(f"{path}:{first_line + offset}: tag {tag!r} is not among the "
                                     f"labels {', '.join(labels)}")
    return Sentence(words=words, tags=tags, first_line=first_line)
