"""bert/ner/conll.py: reading CoNLL files (BIO and IOB1), bad input, and writing predictions."""

import random

import pytest

from bert.errors import InputError
from bert.ner import conll

# The start of CoNLL-2003's eng.train: IOB1, four columns, -DOCSTART- then a blank line.
IOB1_FILE = """-DOCSTART- -X- -X- O

EU NNP B-NP I-ORG
rejects VBZ B-VP O
German JJ B-NP I-MISC
call NN I-NP O
. . O O

Peter NNP B-NP I-PER
Blackburn NNP I-NP I-PER

In IN B-PP O
Paris NNP B-NP I-LOC
Rome NNP I-NP B-LOC
and CC O O
Ms NNP B-NP I-PER
"""


def write(tmp_path, text, name="data.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_iob1_file_as_iob2_with_line_numbers(tmp_path):
    sentences = conll.read_conll(write(tmp_path, IOB1_FILE))
    assert [s.words for s in sentences] == [["EU", "rejects", "German", "call", "."], ["Peter", "Blackburn"],
                                            ["In", "Paris", "Rome", "and", "Ms"]]
    assert [s.tags for s in sentences] == [["B-ORG", "O", "B-MISC", "O", "O"], ["B-PER", "I-PER"],
                                           ["O", "B-LOC", "B-LOC", "O", "B-PER"]]
    assert [s.first_line for s in sentences] == [3, 9, 12]


def test_scheme_iob1_equals_auto_and_bio_keeps_tags(tmp_path):
    path = write(tmp_path, IOB1_FILE)
    assert conll.read_conll(path, scheme="iob1") == conll.read_conll(path)
    assert conll.read_conll(path, scheme="bio")[1].tags == ["I-PER", "I-PER"]


def test_two_column_bio_file_with_tabs_crlf_and_bom_is_unchanged(tmp_path):
    path = tmp_path / "bio.txt"
    path.write_bytes("\ufeffJohn\tB-PER\r\nSmith\tI-PER\r\nsaid  O\r\n\r\n\r\nNew B-LOC\r\nYork I-LOC\r\n".encode())
    sentences = conll.read_conll(path)
    assert [(s.words, s.tags, s.first_line) for s in sentences] == [
        (["John", "Smith", "said"], ["B-PER", "I-PER", "O"], 1), (["New", "York"], ["B-LOC", "I-LOC"], 6)]


def test_docstart_without_blank_line_ends_the_sentence(tmp_path):
    sentences = conll.read_conll(write(tmp_path, "a O\n-DOCSTART- O\nb B-X\n"))
    assert [(s.words, s.first_line) for s in sentences] == [(["a"], 1), (["b"], 3)]


def test_non_breaking_space_stays_inside_a_token(tmp_path):
    sentences = conll.read_conll(write(tmp_path, "10\u00a0km O\n"))
    assert sentences[0].words == ["10\u00a0km"]


@pytest.mark.parametrize("iob1, iob2", [
    (["I-PER", "I-PER", "O", "I-LOC"], ["B-PER", "I-PER", "O", "B-LOC"]),
    (["I-LOC", "B-LOC", "I-LOC"], ["B-LOC", "B-LOC", "I-LOC"]),       # B- separates two LOC
    (["I-ORG", "I-LOC", "I-LOC"], ["B-ORG", "B-LOC", "I-LOC"]),       # a type change starts an entity
    (["B-PER", "I-PER"], ["B-PER", "I-PER"]),
    ([], []),
])
def test_iob1_to_iob2_known_answers(iob1, iob2):
    assert conll.iob1_to_iob2(iob1) == iob2


def test_iob1_to_iob2_leaves_well_formed_bio_unchanged_and_makes_any_tags_well_formed():
    rng = random.Random(0)
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    for _ in range(500):
        raw = [rng.choice(tags) for _ in range(rng.randrange(12))]
        converted = conll.iob1_to_iob2(raw)
        for previous, tag in zip(["O", *converted], converted):
            assert not tag.startswith("I-") or previous[2:] == tag[2:]  # well-formed BIO
        assert conll.iob1_to_iob2(converted) == converted


def test_unlabelled_reading_gives_tokens_only(tmp_path):
    sentences = conll.read_conll(write(tmp_path, "-DOCSTART-\n\nEU\nrejects\n\nPeter X Y\n"), labelled=False)
    assert [(s.words, s.tags, s.first_line) for s in sentences] == [(["EU", "rejects"], None, 3), (["Peter"], None, 6)]


def test_collect_labels_lists_b_and_i_of_every_type():
    sentences = [conll.Sentence(["a", "b"], ["B-PER", "O"], 1), conll.Sentence(["c"], ["I-LOC"], 4)]
    assert conll.collect_labels(sentences) == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]


def test_labels_accept_known_tags_after_conversion(tmp_path):
    path = write(tmp_path, IOB1_FILE)
    labels = conll.collect_labels(conll.read_conll(path))
    assert conll.read_conll(path, labels=labels) == conll.read_conll(path)


@pytest.mark.parametrize("content, kwargs, expected", [
    (b"", {}, "data.txt: the file has no sentences"),
    (b"-DOCSTART- O\n\n\n", {}, "data.txt: the file has no sentences"),
    (b"EU B-ORG\nrejects\n", {}, "data.txt:2: expected a token and a tag"),
    (b"EU B-ORG\n\nrejects X-ORG\n", {}, "data.txt:3: tag 'X-ORG' is not O, B-<type> or I-<type>"),
    (b"EU B-\n", {}, "data.txt:1: tag 'B-'"),
    (b"EU B-ORG\n\nrejects O\nEU I-PER\n", {"labels": ["O", "B-ORG", "I-ORG"]}, "data.txt:4: tag 'B-PER'"),
    (b"EU B-ORG\n\ncaf\xe9 O\n", {}, "data.txt:3: not UTF-8"),
])
def test_bad_input_is_one_line_naming_file_and_line(tmp_path, content, kwargs, expected):
    path = tmp_path / "data.txt"
    path.write_bytes(content)
    with pytest.raises(InputError) as error:
        conll.read_conll(path, **kwargs)
    assert expected in str(error.value)
    assert "\n" not in str(error.value)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="missing.txt: cannot read the file"):
        conll.read_conll(tmp_path / "missing.txt")


def test_write_then_read_gives_the_predictions(tmp_path):
    sentences = conll.read_conll(write(tmp_path, IOB1_FILE))
    predicted = [["O"] * len(s.words) for s in sentences]
    predicted[2][1:3] = ["B-LOC", "I-LOC"]
    out = tmp_path / "predictions.txt"
    conll.write_conll(out, sentences, predicted)
    lines = out.read_text(encoding="utf-8").split("\n")
    assert lines[:2] == ["EU B-ORG O", "rejects O O"]
    assert lines[5:9] == ["", "Peter B-PER O", "Blackburn I-PER O", ""]
    assert [s.tags for s in conll.read_conll(out, scheme="bio")] == predicted
    assert [s.words for s in conll.read_conll(out)] == [s.words for s in sentences]


def test_write_unlabelled_gives_word_and_prediction(tmp_path):
    sentences = [conll.Sentence(["EU", "rejects"], None, 1), conll.Sentence(["Peter"], None, 4)]
    out = tmp_path / "predictions.txt"
    conll.write_conll(out, sentences, [["B-ORG", "O"], ["B-PER"]])
    assert out.read_text(encoding="utf-8") == "EU B-ORG\nrejects O\n\nPeter B-PER\n"


def test_write_mismatch_leaves_the_old_file(tmp_path):
    out = write(tmp_path, "old\n", name="predictions.txt")
    sentences = [conll.Sentence(["EU", "rejects"], None, 1)]
    with pytest.raises(ValueError, match="1 tags for 2 words"):
        conll.write_conll(out, sentences, [["O"]])
    assert out.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["predictions.txt"]
