"""FullTokenizer against Google's pure-Python algorithm (the port kept in `transformers`)."""

import random
import subprocess
import sys

import pytest

import tokenization
from errors import InputError

EDGE_CASES = [
    "Héllo, WORLD! Ça va? naïve café",
    "Привет, мир! Съешь ещё этих мягких французских булок.",
    "中文字符和日本語のテキスト한국어",
    "emoji 😀👍🏽 inside wörds😀x",
    "control\x00chars\x07and\ufffdreplacement\u200bzero-width\ttab\nnewline\u00a0nbsp",
    "[CLS] special [SEP] strings [MASK] stay text",
    "x" * 199 + " " + "y" * 200 + " " + "z" * 201,
    "unaffable running dogs' 3.14159 e-mail@example.com $100 (a) [b] {c} <d> ~`^|\\",
    "Ǆemo İstanbul ß ﬁ ＡＢＣ ΣΑΣ",
    "",
    "   \t\n  ",
]


def google_reference(vocab_file, do_lower_case):
    """Google's BasicTokenizer + WordpieceTokenizer, 200-char limit, no special-token protection."""
    legacy = pytest.importorskip("transformers.models.bert.tokenization_bert_legacy")
    vocab = legacy.load_vocab(str(vocab_file))
    basic = legacy.BasicTokenizer(do_lower_case=do_lower_case, never_split=None, tokenize_chinese_chars=True)
    wordpiece = legacy.WordpieceTokenizer(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=200)

    def tokenize(text):
        return [piece for token in basic.tokenize(text) for piece in wordpiece.tokenize(token)]

    return tokenize


def random_multilingual_text(rng, length):
    alphabets = [
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "áéíóúàèçñüöäÅÉÎØ",
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГД",
        "的一是不了人我在有他这中大来上们",
        "ΣσςΑΒΓαβγΆάΈέ",
        "😀🎉👍🏽",
        ".,;:!?'\"()[]{}-_/\\@#$%^&*+=<>~`|¿¡«»—…",
        "\x00\x01\x7f\u200b\ufffd\u00ad",
        "      \t\n\u3000",
    ]
    return "".join(rng.choice(rng.choice(alphabets)) for _ in range(length))


@pytest.mark.parametrize("do_lower_case", [True, False])
def test_matches_google_tokenizer(minilm, do_lower_case):
    vocab_file = minilm / "vocab.txt"
    ours = tokenization.FullTokenizer(str(vocab_file), do_lower_case=do_lower_case)
    reference = google_reference(vocab_file, do_lower_case)
    rng = random.Random(0)
    texts = EDGE_CASES + [random_multilingual_text(rng, rng.randint(1, 300)) for _ in range(400)]
    for text in texts:
        assert ours.tokenize(text) == reference(text), repr(text)


def random_english_like_text(rng, length):
    """Mostly printable ASCII with typographic punctuation (the fast paths), sometimes other text."""
    words = ["the", "The", "unaffable", "running", "dogs", "3.14", "e-mail", "don't", "x" * 201, "Naïve",
             "co-operate", "USA", "“quoted”", "it’s", "—", "…", "«»", "¿Qué?", "Σ", "ΣΑΣ", "中文"]
    separators = [" ", " ", " ", "  ", "\t", "\n", "\r", "\u00a0", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u3000"]
    parts = []
    for _ in range(length):
        parts.append(rng.choice(words) if rng.random() < 0.7 else
                     "".join(chr(rng.randint(0x21, 0x7E)) for _ in range(rng.randint(1, 12))))
        parts.append(rng.choice(separators) if rng.random() < 0.2 else " ")
    return "".join(parts)


@pytest.mark.parametrize("do_lower_case", [True, False])
def test_matches_google_tokenizer_on_english_like_text(minilm, do_lower_case):
    """One tokenizer for all texts, so its caches serve later texts, as over a corpus."""
    vocab_file = minilm / "vocab.txt"
    ours = tokenization.FullTokenizer(str(vocab_file), do_lower_case=do_lower_case)
    reference = google_reference(vocab_file, do_lower_case)
    rng = random.Random(1)
    for _ in range(600):
        text = random_english_like_text(rng, rng.randint(0, 40))
        assert ours.tokenize(text) == reference(text), repr(text)


def test_long_word_limit_is_200_chars(tiny_vocab_file):
    tokenizer = tokenization.FullTokenizer(str(tiny_vocab_file))
    assert tokenizer.tokenize("s" * 200 + " " + "s" * 201)[-1] == "[UNK]"
    word_of_200 = "cat" + "##s" * 0
    assert tokenizer.tokenize(word_of_200) == ["cat"]


def test_ids_and_offsets_round_trip(tiny_vocab_file):
    tokenizer = tokenization.FullTokenizer(str(tiny_vocab_file), do_lower_case=True)
    text = "The CATS sat, running!"
    (encoding,) = tokenizer.encode_batch([text])
    assert encoding.tokens == ["the", "cat", "##s", "sat", ",", "[UNK]", "!"]
    assert tokenizer.convert_ids_to_tokens(encoding.ids) == encoding.tokens
    assert tokenizer.convert_tokens_to_ids(encoding.tokens) == encoding.ids
    assert [text[start:end] for start, end in encoding.offsets] == ["The", "CAT", "S", "sat", ",", "running", "!"]
    assert tokenizer.batch_token_ids([text, "hello"]) == [encoding.ids, [tokenizer.vocab["hello"]]]


def test_vocab_missing_special_token_is_one_line_error(tmp_path):
    vocab_file = tmp_path / "vocab.txt"
    vocab_file.write_text("[PAD]\n[UNK]\n[CLS]\nhello\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"vocab.txt: vocab lacks the special token\(s\) \[SEP\], \[MASK\]"):
        tokenization.FullTokenizer(str(vocab_file))


def test_unreadable_vocab_is_one_line_error(tmp_path):
    with pytest.raises(InputError, match="missing.txt: cannot read vocab file"):
        tokenization.FullTokenizer(str(tmp_path / "missing.txt"))
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(InputError, match="binary.txt: cannot read vocab file"):
        tokenization.FullTokenizer(str(binary))
