"""FullTokenizer against Google's pure-Python algorithm (the port kept in `transformers`), ids and errors."""

import hashlib

import pytest

from bert.text import tokenization
from conftest import golden
from bert.errors import InputError
from tests.reference.golden_inputs import texts_sha256, tokenizer_text_sets


@pytest.mark.parametrize("do_lower_case", [True, False])
@pytest.mark.parametrize("text_set", ["multilingual", "english_like"])
def test_matches_google_tokenizer(minilm, text_set, do_lower_case):
    """Google's BasicTokenizer + WordpieceTokenizer on edge cases and random text (golden file).

    One tokenizer for all texts of a set, so its caches serve later texts, as over a corpus.
    """
    reference = golden("google_tokenizer.json.gz")
    vocab_file = minilm / "vocab.txt"
    assert hashlib.sha256(vocab_file.read_bytes()).hexdigest() == reference["vocab_sha256"]
    texts = tokenizer_text_sets()[text_set]
    assert texts_sha256(texts) == reference["texts_sha256"][text_set]
    expected = reference["tokens"][f"{text_set}/lower_case={do_lower_case}"]
    ours = tokenization.FullTokenizer(str(vocab_file), do_lower_case=do_lower_case)
    for text, tokens in zip(texts, expected, strict=True):
        assert ours.tokenize(text) == tokens, repr(text)


@pytest.mark.parametrize("do_lower_case", [True, False])
@pytest.mark.parametrize("text_set", ["multilingual", "english_like"])
def test_batch_token_ids_match_google_tokenizer(minilm, text_set, do_lower_case):
    """One batch_token_ids call over a whole set: plain and other texts mixed, each text's ids in place."""
    expected = golden("google_tokenizer.json.gz")["tokens"][f"{text_set}/lower_case={do_lower_case}"]
    tokenizer = tokenization.FullTokenizer(str(minilm / "vocab.txt"), do_lower_case=do_lower_case)
    ids = tokenizer.batch_token_ids(tokenizer_text_sets()[text_set])
    assert [tokenizer.convert_ids_to_tokens(text_ids) for text_ids in ids] == expected


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
