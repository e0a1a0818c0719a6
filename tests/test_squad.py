"""bert/squad's examples.py, features.py and postprocess.py: SQuAD JSON, WordPiece windows, logits to answer texts."""

import json
import pathlib
import random

import numpy as np
import pytest

from bert.squad import examples as squad_examples
from bert.squad import features as squad_features
from bert.squad import metrics as squad_metrics
from bert.squad import postprocess
from bert.text import tokenization
from bert.errors import InputError

SAMPLE_DIR = pathlib.Path(__file__).resolve().parent.parent / "data" / "sample"

# Sentences holding an answer that is a whole WordPiece span: punctuation attached to
# words, inside hyphenated words, accents, numbers with commas, odd whitespace, [UNK].
TRICKY = [
    ("The Franco-Prussian War (1870–1871) reshaped Europe.", "Prussian"),
    ("The Franco-Prussian War (1870–1871) reshaped Europe.", "1870"),
    ("Engineers praised its state-of-the-art engine.", "the-art"),
    ("Café René in São Paulo served crème brûlée, Zoë said.", "crème brûlée"),
    ("Café René in São Paulo served crème brûlée, Zoë said.", "São Paulo"),
    ("Café René in São Paulo served crème brûlée, Zoë said.", "Zoë"),
    ("The project cost $1,234,567 in 2010, up from 987,654.", "1,234,567"),
    ("The project cost $1,234,567 in 2010, up from 987,654.", "987,654"),
    ("They moved to New   York\n\nCity  in\tMay.", "New   York\n\nCity"),
    ('"Hello," she said (quietly).', "quietly"),
    ('"Hello," she said (quietly).', "Hello"),
    ("Newton's laws of motion appeared in 1687.", "Newton"),
    ("The trail is 10\u202fkm long and 100\u00a0km wide.", "10\u202fkm"),
    ("The trail is 10\u202fkm long and 100\u00a0km wide.", "100\u00a0km"),
    ("She replied 😀 to everyone.", "😀"),
    ("東京 is the capital.", "東京"),
    ("Write to foo@bar.com or call +1-555-0100.", "foo@bar.com"),
    ("Pi is about 3.14159, not 22/7.", "3.14159"),
    ("U.S. Route 66 runs west.", "U.S. Route 66"),
    ("ÉCOLE Normale Supérieure (ENS) trains teachers.", "ÉCOLE Normale Supérieure"),
]
FILLER = [
    "Rivers carried sediment toward the delta during the long wet season.",
    "Several committees reviewed the proposal before the final vote was held.",
    "Mountain villages relied on terraced fields and careful water management.",
    "The archive stores letters, maps and photographs from the nineteenth century.",
]


def tricky_dataset(num_contexts=5, seed=0, impossible_every=0):
    """A SQuAD dict: each context holds all TRICKY sentences shuffled between fillers."""
    rng = random.Random(seed)
    paragraphs = []
    for c in range(num_contexts):
        order = list(range(len(TRICKY)))
        rng.shuffle(order)
        context = "  \n" if c == 1 else ""  # leading whitespace: char_to_word_offset -1
        qas = []
        for n, k in enumerate(order):
            if c != 0 or n > 0:  # context 0 starts with an answer sentence
                context += rng.choice(FILLER) + rng.choice([" ", "  ", "\n", " \t "])
            sentence, answer = TRICKY[k]
            answer_start = len(context) + sentence.index(answer)
            context += sentence + " "
            words = " ".join(rng.choice(FILLER).split()[: rng.randint(1, 30)])
            question = {"id": f"c{c}-q{k}", "question": f"Which part of sentence {k} matters? {words}",
                        "answers": [{"text": answer, "answer_start": answer_start}]}
            if impossible_every and n % impossible_every == 0:
                question.update(answers=[], is_impossible=True, plausible_answers=question["answers"])
            qas.append(question)
        if c == 2:
            context = context.rstrip()  # context 2 ends with an answer sentence's "."
        paragraphs.append({"context": context, "qas": qas})
    return {"version": "1.1", "data": [{"title": "Tricky", "paragraphs": paragraphs}]}


GOOGLE_WHITESPACE = {ord(char): " " for char in "\t\r\n\u202f"}


def google_split(text):
    """Whitespace tokens as Google's reader splits them: U+202F splits, U+00A0 does not."""
    return [token for token in text.translate(GOOGLE_WHITESPACE).split(" ") if token]


def write_json(path, content):
    path.write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def bert_tokenizer(minilm):
    return tokenization.FullTokenizer(str(minilm / "vocab.txt"), do_lower_case=True)


@pytest.fixture
def tiny_tokenizer(tiny_vocab_file):
    return tokenization.FullTokenizer(str(tiny_vocab_file), do_lower_case=True)


def one_paragraph(context, qas):
    return {"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": context, "qas": qas}]}]}


# ----------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------


def test_reader_round_trip(tmp_path):
    dataset = tricky_dataset(num_contexts=3)
    examples = squad_examples.read_squad_examples(str(write_json(tmp_path / "train.json", dataset)), is_training=True)
    qas = [(paragraph["context"], qa) for paragraph in dataset["data"][0]["paragraphs"] for qa in paragraph["qas"]]
    assert [example.qas_id for example in examples] == [qa["id"] for _, qa in qas]
    for example, (context, qa) in zip(examples, qas):
        assert example.question_text == qa["question"]
        assert example.doc_tokens == google_split(context)
        assert len(example.char_to_word_offset) == len(context)
        answer = qa["answers"][0]
        assert (example.orig_answer_text, example.is_impossible) == (answer["text"], False)
        covered = " ".join(example.doc_tokens[example.start_position:example.end_position + 1])
        assert " ".join(google_split(answer["text"])) in covered
        first_word, last_word = google_split(answer["text"])[0], google_split(answer["text"])[-1]
        assert first_word in example.doc_tokens[example.start_position]
        assert last_word in example.doc_tokens[example.end_position]
    # All questions of a paragraph share its tokens; leading whitespace maps to -1.
    assert examples[0].doc_tokens is examples[1].doc_tokens
    paragraph_1 = next(e for e in examples if e.qas_id.startswith("c1-"))
    assert list(paragraph_1.char_to_word_offset[:4]) == [-1, -1, -1, 0]
    # Prediction mode does not look at answers.
    plain = squad_examples.read_squad_examples(str(tmp_path / "train.json"), is_training=False)
    assert plain[0].start_position is None and plain[0].orig_answer_text is None


@pytest.mark.parametrize("name", ["squad_v1.1_sample.json", "squad_v1.1_dev_sample.json", "squad_v2.0_sample.json",
                                  "squad_v1.1_demo_train.json", "squad_v1.1_demo_dev.json"])
def test_reads_sample_files(name):
    path = SAMPLE_DIR / name
    if not path.exists():
        pytest.skip(f"{path} not written yet")
    dataset = json.loads(path.read_text(encoding="utf-8"))
    ids = [qa["id"] for article in dataset["data"] for paragraph in article["paragraphs"] for qa in paragraph["qas"]]
    examples = squad_examples.read_squad_examples(str(path), is_training="dev" not in name)
    assert [example.qas_id for example in examples] == ids
    for example in examples:
        if example.start_position is not None and not example.is_impossible:
            covered = " ".join(example.doc_tokens[example.start_position:example.end_position + 1])
            assert " ".join(google_split(example.orig_answer_text)) in covered


def test_char_to_word_offset_matches_google_rule():
    tokens, offsets = squad_examples.split_document(" ab  c\u202fd\u00a0e\n")
    assert tokens == ["ab", "c", "d\u00a0e"]
    assert offsets.tolist() == [-1, 0, 0, 0, 0, 1, 1, 2, 2, 2, 2]


def test_reader_v2_impossible(tmp_path):
    context = "Paris is in France."
    dataset = one_paragraph(context, [
        {"id": "yes", "question": "Where?", "is_impossible": False,
         "answers": [{"text": "France", "answer_start": 12}]},
        {"id": "no", "question": "Why?", "is_impossible": True, "answers": [],
         "plausible_answers": [{"text": "Paris", "answer_start": 0}]},
    ])
    possible, impossible = squad_examples.read_squad_examples(str(write_json(tmp_path / "v2.json", dataset)), True)
    assert (possible.start_position, possible.end_position, possible.is_impossible) == (3, 3, False)
    assert possible.doc_tokens[3] == "France."
    assert (impossible.start_position, impossible.end_position, impossible.orig_answer_text) == (-1, -1, "")
    assert impossible.is_impossible is True


def good_qa(**changes):
    qa = {"id": "q1", "question": "Where?", "answers": [{"text": "France", "answer_start": 12}]}
    qa.update(changes)
    return qa


def drop(record, key):
    return {k: v for k, v in record.items() if k != key}


BAD_INPUTS = {
    "malformed_json": ('{"data": [', "malformed JSON"),
    "no_data": ({"version": "1.1"}, "missing field 'data'"),
    "no_paragraphs": ({"data": [{"title": "t"}]}, "data[0]: missing field 'paragraphs'"),
    "no_qas": ({"data": [{"paragraphs": [{"context": "Paris is in France."}]}]},
               "data[0].paragraphs[0]: missing field 'qas'"),
    "no_context": ({"data": [{"paragraphs": [{"qas": [good_qa()]}]}]},
                   "data[0].paragraphs[0]: missing field 'context'"),
    "no_question": (one_paragraph("Paris is in France.", [drop(good_qa(), "question")]),
                    "question id 'q1': missing field 'question'"),
    "no_id": (one_paragraph("Paris is in France.", [good_qa(), drop(good_qa(), "id")]),
              "data[0].paragraphs[0].qas[1]: missing field 'id'"),
    "answer_mismatch": (one_paragraph("Paris is in France.", [good_qa(
        answers=[{"text": "France", "answer_start": 3}])]), "question id 'q1': answer text 'France' does not match"),
    "answer_outside": (one_paragraph("Paris is in France.", [good_qa(
        answers=[{"text": "France", "answer_start": 15}])]), "question id 'q1': answer_start 15"),
    "two_answers": (one_paragraph("Paris is in France.", [good_qa(answers=good_qa()["answers"] * 2)]),
                    "question id 'q1': a training question needs exactly 1"),
    "context_not_string": ({"data": [{"paragraphs": [{"context": ["Paris"], "qas": []}]}]},
                           "data[0].paragraphs[0]: field 'context' must be a string, found an array"),
    "duplicate_id": (one_paragraph("Paris is in France.", [good_qa(), good_qa(question="Again?")]),
                     "question id 'q1': duplicate question id"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_error_naming_file_and_field(tmp_path, case):
    content, expected = BAD_INPUTS[case]
    path = tmp_path / "bad.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    with pytest.raises(InputError) as error:
        squad_examples.read_squad_examples(str(path), is_training=True)
    message = str(error.value)
    assert message.startswith(str(path) + ": ") and "\n" not in message
    assert expected in message


def test_missing_file_is_input_error(tmp_path):
    with pytest.raises(InputError, match="nothere.json: cannot read"):
        squad_examples.read_squad_examples(str(tmp_path / "nothere.json"), is_training=False)


# ----------------------------------------------------------------------------------
# Featurizing
# ----------------------------------------------------------------------------------


def test_window_structure(tmp_path, tiny_tokenizer):
    dataset = one_paragraph("The cat sat on the mat, a dog ran!", [
        {"id": "q", "question": "hello world the cat?", "answers": [{"text": "dog ran", "answer_start": 26}]}])
    examples = squad_examples.read_squad_examples(str(write_json(tmp_path / "t.json", dataset)), is_training=True)
    features = squad_features.convert_examples_to_features(
        examples, tiny_tokenizer, max_seq_length=12, doc_stride=2, max_query_length=3, is_training=True)
    # doc sub-tokens: the cat sat on the mat , a dog ran ! (11); room = 12 - 3 - 3 = 6
    assert features.doc_start.tolist() == [0, 2, 4, 6]
    assert features.doc_length.tolist() == [6, 6, 6, 5]
    assert features.unique_ids.tolist() == [1000000000, 1000000001, 1000000002, 1000000003]
    window = features.window(2)
    assert window.tokens == ["[CLS]", "hello", "world", "the", "[SEP]", "the", "mat", ",", "a", "dog", "ran", "[SEP]"]
    assert window.segment_ids == [0] * 5 + [1] * 7
    assert window.input_mask == [1] * 12
    assert window.token_to_orig_map == {5: 4, 6: 5, 7: 5, 8: 6, 9: 7, 10: 8}
    assert (window.start_position, window.end_position) == (9, 10)
    # Windows 0 and 1 do not hold the answer: [CLS].
    assert features.start_positions.tolist() == [0, 0, 9, 7]
    assert features.end_positions.tolist() == [0, 0, 10, 8]
    arrays = features.arrays()
    assert set(arrays) == {"unique_ids", "input_ids", "input_mask", "segment_ids",
                           "start_positions", "end_positions", "is_impossible"}
    assert all(value.dtype == np.int32 for value in arrays.values())
    assert arrays["input_ids"].shape == (4, 12)
    assert arrays["input_ids"][2].tolist() == tiny_tokenizer.convert_tokens_to_ids(window.tokens)

    short = squad_features.convert_examples_to_features(examples, tiny_tokenizer, 32, 128, 24, is_training=False)
    padded = short.window(0)
    used = 1 + 5 + 1 + 11 + 1  # the whole question "hello world the cat ?" fits now
    assert padded.input_mask == [1] * used + [0] * (32 - used)
    assert padded.input_ids[used:] == [0] * (32 - used)
    assert set(short.arrays()) == {"unique_ids", "input_ids", "input_mask", "segment_ids"}


def test_lengths_leaving_no_room_for_the_document_are_rejected(tmp_path, tiny_tokenizer):
    dataset = one_paragraph("the cat sat", [{"id": "q", "question": "hello"}])
    examples = squad_examples.read_squad_examples(str(write_json(tmp_path / "t.json", dataset)), is_training=False)
    with pytest.raises(InputError, match=r"max_seq_length \(67\) must exceed max_query_length \(64\) \+ 3"):
        squad_features.convert_examples_to_features(examples, tiny_tokenizer, 67, 128, 64, is_training=False)


def test_max_context_hand_checked(tmp_path, tiny_tokenizer):
    # Nine doc tokens, room for five: windows [0..4], [2..6], [4..8] with stride 2.
    # Token 3: scores min(3,1)+.05 = 1.05 in window 0 and min(1,3)+.05 = 1.05 in window 1;
    # the tie goes to the first window. Token 4: .05, 2.05, .05 -> window 1.
    # Token 6: window 1 min(4,0) = .05, window 2 min(2,2) = 2.05 -> window 2.
    dataset = one_paragraph("the cat sat on the mat a dog ran", [{"id": "q", "question": "hello"}])
    examples = squad_examples.read_squad_examples(str(write_json(tmp_path / "t.json", dataset)), is_training=False)
    features = squad_features.convert_examples_to_features(examples, tiny_tokenizer, 9, 2, 8 - 3 - 3, is_training=False)
    assert features.doc_start.tolist() == [0, 2, 4]
    assert [features.window(i).token_is_max_context for i in range(3)] == [
        {3: True, 4: True, 5: True, 6: True, 7: False},
        {3: False, 4: False, 5: True, 6: True, 7: False},
        {3: False, 4: False, 5: True, 6: True, 7: True},
    ]
    assert features.max_context_span(0).tolist() == [0, 0, 0, 0, 1, 1, 2, 2, 2]


def test_read_windows_featurizes_a_file_and_refuses_one_without_questions(tmp_path, tiny_tokenizer):
    path = str(write_json(tmp_path / "t.json", one_paragraph("the cat sat on the mat", [{"id": "q", "question": "hi"}])))
    examples, features = squad_features.read_windows(path, tiny_tokenizer, 16, 8, 4, is_training=False)
    expected = squad_features.convert_examples_to_features(
        squad_examples.read_squad_examples(path, is_training=False), tiny_tokenizer, 16, 8, 4, is_training=False)
    assert [example.qas_id for example in examples] == ["q"]
    assert features.arrays()["input_ids"].tolist() == expected.arrays()["input_ids"].tolist()
    empty = str(write_json(tmp_path / "empty.json", {"data": []}))
    with pytest.raises(InputError, match="empty.json: the file has no questions"):
        squad_features.read_windows(empty, tiny_tokenizer, 16, 8, 4, is_training=False)


def reference_windows(example, tokenizer, max_seq_length, doc_stride, max_query_length, is_training):
    """Google's `convert_examples_to_features` for one example, written out plainly.

    Tokenizes token by token with `tokenizer.tokenize`; returns a list of dicts.
    """
    query = tokenizer.tokenize(example.question_text)[:max_query_length]
    pieces, piece_source, first_piece = [], [], []
    for number, doc_token in enumerate(example.doc_tokens):
        first_piece.append(len(pieces))
        for piece in tokenizer.tokenize(doc_token):
            pieces.append(piece)
            piece_source.append(number)
    if is_training and not example.is_impossible:
        start = first_piece[example.start_position]
        end = (first_piece[example.end_position + 1] - 1 if example.end_position + 1 < len(example.doc_tokens)
               else len(pieces) - 1)
        wanted = " ".join(tokenizer.tokenize(example.orig_answer_text))
        tighter = [(s, e) for s in range(start, end + 1) for e in range(end, s - 1, -1)
                   if " ".join(pieces[s:e + 1]) == wanted]
        start, end = tighter[0] if tighter else (start, end)
    room = max_seq_length - len(query) - 3
    spans, begin = [], 0
    while begin < len(pieces):
        spans.append((begin, min(room, len(pieces) - begin)))
        if begin + spans[-1][1] == len(pieces):
            break
        begin += min(spans[-1][1], doc_stride)

    def best_span(position):
        best, best_score = None, None
        for index, (span_begin, span_length) in enumerate(spans):
            if span_begin <= position < span_begin + span_length:
                score = min(position - span_begin, span_begin + span_length - 1 - position) + 0.01 * span_length
                if best_score is None or score > best_score:
                    best, best_score = index, score
        return best

    windows = []
    for index, (span_begin, span_length) in enumerate(spans):
        tokens = ["[CLS]"] + query + ["[SEP]"] + pieces[span_begin:span_begin + span_length] + ["[SEP]"]
        ids = tokenizer.convert_tokens_to_ids(tokens)
        offset = len(query) + 2
        window = {
            "input_ids": ids + [0] * (max_seq_length - len(ids)),
            "segment_ids": [0] * offset + [1] * (span_length + 1) + [0] * (max_seq_length - len(ids)),
            "token_to_orig_map": {offset + k: piece_source[span_begin + k] for k in range(span_length)},
            "token_is_max_context": {offset + k: best_span(span_begin + k) == index for k in range(span_length)},
        }
        if is_training:
            inside = not example.is_impossible and span_begin <= start and end < span_begin + span_length
            window["positions"] = (start - span_begin + offset, end - span_begin + offset) if inside else (0, 0)
        windows.append(window)
    return windows


@pytest.mark.parametrize("max_seq_length,doc_stride,max_query_length", [(384, 128, 64), (64, 32, 12), (40, 7, 30)])
def test_features_equal_google_reference(tmp_path, bert_tokenizer, max_seq_length, doc_stride, max_query_length):
    path = write_json(tmp_path / "t.json", tricky_dataset(num_contexts=2, impossible_every=4))
    examples = squad_examples.read_squad_examples(str(path), is_training=True)
    features = squad_features.convert_examples_to_features(
        examples, bert_tokenizer, max_seq_length, doc_stride, max_query_length, is_training=True)
    expected = [window for example in examples for window in reference_windows(
        example, bert_tokenizer, max_seq_length, doc_stride, max_query_length, is_training=True)]
    assert len(features) == len(expected)
    for i, reference in enumerate(expected):
        window = features.window(i)
        assert window.input_ids == reference["input_ids"]
        assert window.segment_ids == reference["segment_ids"]
        assert window.token_to_orig_map == reference["token_to_orig_map"]
        assert window.token_is_max_context == reference["token_is_max_context"]
        assert (window.start_position, window.end_position) == reference["positions"]


def test_sub_tokens_equal_token_by_token_tokenize(tmp_path, bert_tokenizer):
    """Messy text: document sub-tokens are `tokenize(doc_token)` concatenated, the question `tokenize(question)`."""
    rng = random.Random(5)
    alphabet = ("abcxyzABCÉéüßς Σ東京😀.,;:!?'\"()-/$%&—…\u00a0\u202f\u200b\u00ad\x00\x7f\ufffd"
                "    \t\n\r\u3000абвг")
    paragraphs = []
    for p in range(30):
        context = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 300))) + "x"
        question = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        paragraphs.append({"context": context, "qas": [{"id": f"q{p}", "question": question}]})
    path = write_json(tmp_path / "messy.json", {"data": [{"paragraphs": paragraphs}]})
    examples = squad_examples.read_squad_examples(str(path), is_training=False)
    features = squad_features.convert_examples_to_features(examples, bert_tokenizer, 512, 128, 500, is_training=False)
    for e, example in enumerate(examples):
        pieces = [piece for token in example.doc_tokens for piece in bert_tokenizer.tokenize(token)]
        assert features.document(e).sub_token_ids.tolist() == bert_tokenizer.convert_tokens_to_ids(pieces)
        question = bert_tokenizer.convert_tokens_to_ids(bert_tokenizer.tokenize(example.question_text))
        assert features.query_ids[e].tolist() == question, repr(example.question_text)


# ----------------------------------------------------------------------------------
# Post-processing
# ----------------------------------------------------------------------------------


def sample_training_files():
    """The sample SQuAD files with one answer per question (readable for training)."""
    return [path for path in (SAMPLE_DIR / "squad_v1.1_sample.json", SAMPLE_DIR / "squad_v2.0_sample.json")
            if path.exists()]


def acceptance_datasets(tmp_path):
    return [write_json(tmp_path / "tricky.json", tricky_dataset(num_contexts=5))] + sample_training_files()


@pytest.mark.parametrize("max_seq_length,doc_stride,max_query_length", [(384, 128, 64), (64, 32, 12)])
def test_gold_logits_give_gold_text_in_every_window(tmp_path, bert_tokenizer, max_seq_length, doc_stride,
                                                    max_query_length):
    """One-hot logits at the gold span of any window that holds the answer give F1 100.

    The post-processor only starts spans at tokens having their maximum context in the
    window, so for a window that is not the start token's max-context window the peak
    cannot win there; those windows are checked through `span_text`, the same text
    recovery the post-processor uses. Windows are checked in rounds: in round r every
    example gets peaks in its r-th answer-holding window and low logits elsewhere.
    """
    checked = {"post-processor": 0, "span_text": 0}
    for path in acceptance_datasets(tmp_path):
        examples = squad_examples.read_squad_examples(str(path), is_training=True)
        features = squad_features.convert_examples_to_features(
            examples, bert_tokenizer, max_seq_length, doc_stride, max_query_length, is_training=True)
        holding = {}  # example -> windows holding its answer
        for i in np.flatnonzero(features.start_positions > 0):
            holding.setdefault(int(features.example_index[i]), []).append(int(i))
        assert len(holding) == sum(not example.is_impossible for example in examples)
        for r in range(max(len(windows) for windows in holding.values())):
            start_logits = np.full((len(features), max_seq_length), -5.0, dtype=np.float32)
            end_logits = start_logits.copy()
            via_post_processor = {}
            for e, windows in holding.items():
                if r >= len(windows):
                    continue
                i = windows[r]
                start, end = features.start_positions[i], features.end_positions[i]
                gold = examples[e].orig_answer_text
                sub_token = features.doc_start[i] + start - features.query_length[i] - 2
                if features.max_context_span(e)[sub_token] == features.doc_span_index[i]:
                    start_logits[i, start] = end_logits[i, end] = 8.0
                    via_post_processor[examples[e].qas_id] = gold
                else:
                    text = postprocess.span_text(examples[e], features, i, int(start), int(end))
                    assert squad_metrics.f1_score(text, gold) == 1.0, (path.name, examples[e].qas_id, text, gold)
                    checked["span_text"] += 1
            result = postprocess.compute_predictions(examples, features, start_logits, end_logits)
            for qas_id, gold in via_post_processor.items():
                predicted = result.predictions[qas_id]
                assert squad_metrics.f1_score(predicted, gold) == 1.0, (path.name, qas_id, r, predicted, gold)
                assert result.nbest[qas_id][0]["text"] == predicted
            checked["post-processor"] += len(via_post_processor)
    assert checked["post-processor"] >= 100
    if max_seq_length == 64:
        assert checked["span_text"] > 0


def test_text_comes_from_the_original_document(tmp_path, bert_tokenizer):
    path = write_json(tmp_path / "t.json", tricky_dataset(num_contexts=1))
    examples = squad_examples.read_squad_examples(str(path), is_training=True)
    features = squad_features.convert_examples_to_features(examples, bert_tokenizer, 384, 128, 64, is_training=True)
    texts = {}
    for i in range(len(features)):
        if features.start_positions[i]:
            example = examples[features.example_index[i]]
            texts[example.orig_answer_text] = postprocess.span_text(
                example, features, i, int(features.start_positions[i]), int(features.end_positions[i]))
    # Case, accents and inner punctuation kept; inner whitespace becomes one space
    # (Google's); [UNK] and a non-breaking space are cut by character offsets.
    assert texts["crème brûlée"] == "crème brûlée"
    assert texts["ÉCOLE Normale Supérieure"] == "ÉCOLE Normale Supérieure"
    assert texts["1,234,567"] == "1,234,567"
    assert texts["the-art"] == "the-art"
    assert texts["New   York\n\nCity"] == "New York City"
    assert texts["😀"] == "😀"
    assert texts["100\u00a0km"] == "100\u00a0km"
    assert texts["U.S. Route 66"] == "U.S. Route 66"


def reference_nbest(example, windows, start_logits, end_logits, n_best_size, max_answer_length, text_of, v2):
    """Google's `write_predictions` loop for one example over `FeatureWindow`s, plainly.

    Returns (nbest [(text, start_logit, end_logit)], score_null or None).
    """
    def best_indexes(logits):
        return [index for index, _ in sorted(enumerate(logits), key=lambda pair: pair[1], reverse=True)][:n_best_size]

    candidates, score_null, null_logits = [], None, None
    for window, starts, ends in zip(windows, start_logits, end_logits):
        if v2 and (score_null is None or starts[0] + ends[0] < score_null):
            score_null, null_logits = starts[0] + ends[0], (starts[0], ends[0])
        for start in best_indexes(starts):
            for end in best_indexes(ends):
                if start not in window.token_to_orig_map or end not in window.token_to_orig_map:
                    continue
                if not window.token_is_max_context.get(start, False) or end < start:
                    continue
                if end - start + 1 > max_answer_length:
                    continue
                candidates.append((window, start, end, starts[start], ends[end]))
    if v2:
        candidates.append((None, 0, 0) + null_logits)
    candidates.sort(key=lambda candidate: candidate[3] + candidate[4], reverse=True)
    nbest, seen = [], set()
    for window, start, end, start_logit, end_logit in candidates:
        if len(nbest) >= n_best_size:
            break
        text = "" if window is None else text_of(window, start, end)
        if text in seen and window is not None:
            continue
        seen.add(text)
        nbest.append((text, start_logit, end_logit))
    if v2 and "" not in seen:
        nbest.append(("",) + null_logits)
    if not any(text for text, _, _ in nbest):
        nbest.append(("empty", 0.0, 0.0))
    return nbest, score_null


@pytest.mark.parametrize("v2", [False, True])
def test_post_processing_equals_google_loop_on_random_logits(tmp_path, bert_tokenizer, v2):
    path = write_json(tmp_path / "t.json", tricky_dataset(num_contexts=2))
    examples = squad_examples.read_squad_examples(str(path), is_training=False)
    features = squad_features.convert_examples_to_features(examples, bert_tokenizer, 64, 24, 12, is_training=False)
    rng = np.random.default_rng(1)
    start_logits = rng.normal(size=(len(features), 64)).astype(np.float32)
    end_logits = rng.normal(size=(len(features), 64)).astype(np.float32)
    start_logits[:, 10] = start_logits[:, 11]  # ties break to the lower position
    result = postprocess.compute_predictions(examples, features, start_logits, end_logits, n_best_size=7,
                                             max_answer_length=5, version_2_with_negative=v2)
    for e, example in enumerate(examples):
        rows = range(features.example_feature_offsets[e], features.example_feature_offsets[e + 1])
        windows = [features.window(i) for i in rows]
        row_of = {window.unique_id: i for window, i in zip(windows, rows)}

        def text_of(window, start, end):
            return postprocess.span_text(example, features, row_of[window.unique_id], start, end)

        nbest, score_null = reference_nbest(
            example, windows, start_logits[list(rows)].astype(float).tolist(),
            end_logits[list(rows)].astype(float).tolist(), 7, 5, text_of, v2)
        got = [(entry["text"], entry["start_logit"], entry["end_logit"]) for entry in result.nbest[example.qas_id]]
        assert got == nbest
        if v2:
            best = next(entry for entry in nbest if entry[0])
            assert result.null_odds[example.qas_id] == pytest.approx(score_null - best[1] - best[2], abs=1e-12)
        else:
            assert result.predictions[example.qas_id] == nbest[0][0]


def test_logits_may_come_in_any_order(tmp_path, bert_tokenizer):
    path = write_json(tmp_path / "t.json", tricky_dataset(num_contexts=1))
    examples = squad_examples.read_squad_examples(str(path), is_training=False)
    features = squad_features.convert_examples_to_features(examples, bert_tokenizer, 64, 32, 12, is_training=False)
    rng = np.random.default_rng(2)
    start_logits, end_logits = rng.normal(size=(2, len(features), 64))
    in_order = postprocess.compute_predictions(examples, features, start_logits, end_logits)
    permutation = rng.permutation(len(features))
    shuffled = postprocess.compute_predictions(examples, features, start_logits[permutation], end_logits[permutation],
                                               unique_ids=features.unique_ids[permutation])
    assert shuffled == in_order
    with pytest.raises(ValueError, match="no logits"):
        postprocess.compute_predictions(examples, features, start_logits[1:], end_logits[1:],
                                        unique_ids=features.unique_ids[1:])


def test_v2_null_answer_and_output_files(tmp_path, bert_tokenizer):
    path = write_json(tmp_path / "v2.json", tricky_dataset(num_contexts=1, impossible_every=3))
    examples = squad_examples.read_squad_examples(str(path), is_training=True)
    features = squad_features.convert_examples_to_features(examples, bert_tokenizer, 128, 64, 32, is_training=True)
    start_logits, end_logits = np.random.default_rng(3).normal(scale=0.1, size=(2, len(features), 128))
    rows = np.arange(len(features))
    holds_answer = features.start_positions > 0
    # Impossible questions: [CLS] wins everywhere. Possible ones: the gold span wins.
    start_logits[:, 0] = end_logits[:, 0] = np.where(features.is_impossible, 6.0, -6.0)
    start_logits[rows[holds_answer], features.start_positions[holds_answer]] = 5.0
    end_logits[rows[holds_answer], features.end_positions[holds_answer]] = 5.0
    result = postprocess.compute_predictions(examples, features, start_logits, end_logits,
                                             version_2_with_negative=True, null_score_diff_threshold=0.0)
    for example in examples:
        predicted, odds = result.predictions[example.qas_id], result.null_odds[example.qas_id]
        if example.is_impossible:
            assert predicted == "" and odds > 0
        else:
            assert squad_metrics.f1_score(predicted, example.orig_answer_text) == 1.0 and odds < 0
        assert "" in [entry["text"] for entry in result.nbest[example.qas_id]]
    # A high threshold turns every null prediction back into the best span.
    lenient = postprocess.compute_predictions(examples, features, start_logits, end_logits,
                                              version_2_with_negative=True, null_score_diff_threshold=100.0)
    assert all(lenient.predictions.values())

    out_dir = tmp_path / "out"
    written = postprocess.write_predictions(result, str(out_dir))
    assert sorted(pathlib.Path(p).name for p in written) == ["nbest_predictions.json", "null_odds.json",
                                                            "predictions.json"]
    assert sorted(p.name for p in out_dir.iterdir()) == ["nbest_predictions.json", "null_odds.json",
                                                        "predictions.json"]  # no temp files left
    ids = [example.qas_id for example in examples]
    predictions = json.loads((out_dir / "predictions.json").read_text(encoding="utf-8"))
    nbest = json.loads((out_dir / "nbest_predictions.json").read_text(encoding="utf-8"))
    null_odds = json.loads((out_dir / "null_odds.json").read_text(encoding="utf-8"))
    assert list(predictions) == list(nbest) == list(null_odds) == ids
    assert all(isinstance(text, str) for text in predictions.values())
    assert all(isinstance(odds, float) for odds in null_odds.values())
    for entries in nbest.values():
        assert all(list(entry) == ["text", "probability", "start_logit", "end_logit"] for entry in entries)
        assert sum(entry["probability"] for entry in entries) == pytest.approx(1.0)
    # The official evaluator's reader accepts the files.
    dataset = squad_metrics.read_dataset(str(path))
    assert squad_metrics.read_predictions(str(out_dir / "predictions.json"), dataset, require_all=True)
    assert squad_metrics.read_na_probs(str(out_dir / "null_odds.json"), dataset)


def test_v1_writes_no_null_odds_and_empty_placeholder(tmp_path, tiny_tokenizer):
    dataset = one_paragraph("the cat sat on the mat", [{"id": "q", "question": "hello"}])
    examples = squad_examples.read_squad_examples(str(write_json(tmp_path / "t.json", dataset)), is_training=False)
    features = squad_features.convert_examples_to_features(examples, tiny_tokenizer, 16, 8, 4, is_training=False)
    start_logits = np.zeros((1, 16))
    end_logits = np.zeros((1, 16))
    # max_answer_length 0 leaves no candidate: Google's "empty" placeholder is predicted.
    result = postprocess.compute_predictions(examples, features, start_logits, end_logits, max_answer_length=0)
    assert result.predictions == {"q": "empty"} and result.null_odds is None
    assert result.nbest["q"] == [{"text": "empty", "probability": 1.0, "start_logit": 0.0, "end_logit": 0.0}]
    # v2 with no span candidate: the null answer, with the placeholder as best non-null.
    v2 = postprocess.compute_predictions(examples, features, start_logits, end_logits, max_answer_length=0,
                                         version_2_with_negative=True, null_score_diff_threshold=5.0)
    assert v2.predictions == {"q": ""} and v2.null_odds == {"q": 0.0}
    assert [entry["text"] for entry in v2.nbest["q"]] == ["", "empty"]
    written = postprocess.write_predictions(result, str(tmp_path / "v1"))
    assert sorted(pathlib.Path(p).name for p in written) == ["nbest_predictions.json", "predictions.json"]
    assert json.loads(pathlib.Path(written[0]).read_text()) == {"q": "empty"}
