"""Google's BERT WordPiece tokenizer: WordPiece in Python for plain text, Rust `tokenizers` for the rest.

`FullTokenizer` keeps the API of Google's `tokenization.py` (so existing code keeps
working) and produces the same tokens: text cleaning (NUL, U+FFFD and control
characters removed, whitespace normalised), every CJK character split off as its own
token, lower-casing plus accent stripping when `do_lower_case` (text kept as is when
cased), punctuation split (Unicode P* and ASCII symbols), and greedy longest-match
WordPiece with `##` continuations, a word longer than 200 characters becoming `[UNK]`.
Special-token strings such as "[CLS]" that occur in the text are tokenized like any
other text, as Google's tokenizer does.

Text made of printable ASCII, whitespace and common punctuation (nearly every line of
English) needs none of the Unicode steps: it is split into words by one regular
expression and each word's WordPiece tokens are computed in Python once and cached,
which is 2 to 4.5 times faster than the Rust backend on English prose (see
benchmarks/README.md). Other text, and `encode_batch` (which also gives character
offsets), go to the Rust backend.

Example:
    >>> tokenizer = FullTokenizer("vocab.txt", do_lower_case=True)
    >>> tokenizer.tokenize("Héllo, unaffable world!")
    ['hello', ',', 'una', '##ffa', '##ble', 'world', '!']
    >>> tokenizer.encode_batch(["Hi there"])[0].offsets   # character spans in the text
    [(0, 2), (3, 8)]
"""

import dataclasses
import itertools
import re
import unicodedata

import tokenizers
from tokenizers import normalizers, pre_tokenizers

from bert.errors import InputError

REQUIRED_SPECIAL_TOKENS = ("[UNK]", "[CLS]", "[SEP]", "[MASK]")
MAX_INPUT_CHARS_PER_WORD = 200
_CACHE_SIZE = 1 << 16  # words in the WordPiece cache before it is emptied (about 270 bytes each)


def _simple_punctuation():
    """Non-ASCII punctuation common in running text (typographic quotes, dashes, «», ¿...).

    Each is in Unicode category P* (so Google's tokenizer splits it off) and is left
    unchanged by lower-casing and NFD (so accent stripping cannot touch it).
    """
    candidates = [chr(code) for code in (*range(0xA1, 0xC0), *range(0x2010, 0x205F))]
    return "".join(char for char in candidates if unicodedata.category(char).startswith("P")
                   and char.lower() == char and unicodedata.normalize("NFD", char) == char)


# Printable ASCII (no space, no control character) is all alphanumerics or punctuation.
_PUNCTUATION = "!-/:-@\\[-`{-~" + _simple_punctuation()  # as a regex character class
# Text made only of these needs no Unicode processing beyond `str.lower`.
_SIMPLE_TEXT = re.compile(f"[ \t\n\r!-~{_PUNCTUATION}]*")
# The words of simple text: Google splits at whitespace and around every punctuation mark.
_SIMPLE_WORDS = re.compile(f"[{_PUNCTUATION}]|[^ \t\n\r{_PUNCTUATION}]+")


def load_vocab(vocab_file):
    """Reads a vocab file (one token per line) into an ordered {token: id} dict.

    Raises InputError if the file is unreadable or lacks one of the special tokens
    [UNK], [CLS], [SEP], [MASK].
    """
    try:
        with open(vocab_file, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{vocab_file}: cannot read vocab file ({error})") from None
    vocab = dict(zip(map(str.strip, lines), range(len(lines))))
    missing = [token for token in REQUIRED_SPECIAL_TOKENS if token not in vocab]
    if missing:
        raise InputError(f"{vocab_file}: vocab lacks the special token(s) {', '.join(missing)}")
    return vocab


@dataclasses.dataclass
class Encoding:
    """One text's WordPiece tokens, their ids, and each token's [start, end) character span."""

    tokens: list
    ids: list
    offsets: list


class FullTokenizer:
    """Google's `FullTokenizer`: basic tokenization then WordPiece (Python or Rust, see above).

    Args:
        vocab_file: path of a BERT `vocab.txt`.
        do_lower_case: lower-case and strip accents (uncased models) or keep text as is.
    """

    def __init__(self, vocab_file, do_lower_case=True):
        self.vocab = load_vocab(vocab_file)
        self.inv_vocab = dict(zip(self.vocab.values(), self.vocab.keys()))
        self.do_lower_case = do_lower_case
        self._backend = _build_backend(self.vocab, do_lower_case)
        self._word_pieces = {}  # word (cut at whitespace and punctuation): its pieces

    def tokenize(self, text):
        """Returns the WordPiece tokens of `text` as a list of strings.

        Plain text (see the module docstring) takes the Python path, other text the Rust backend.
        """
        if _SIMPLE_TEXT.fullmatch(text):
            return self._simple_tokens(text)
        return self.convert_ids_to_tokens(self._backend_ids([text])[0])

    def batch_token_ids(self, texts):
        """Token ids of many texts at once: a list of int lists (the fast path for data prep).

        Plain texts take the Python path; the others go to the Rust backend in one batch.
        """
        ids = [None] * len(texts)
        others = []
        for index, text in enumerate(texts):
            if _SIMPLE_TEXT.fullmatch(text):
                ids[index] = self.convert_tokens_to_ids(self._simple_tokens(text))
            else:
                others.append(index)
        for index, text_ids in zip(others, self._backend_ids([texts[index] for index in others])):
            ids[index] = text_ids
        return ids

    def _simple_tokens(self, text):
        """The tokens of text that `_SIMPLE_TEXT` matches: its words' cached WordPiece tokens."""
        words = _SIMPLE_WORDS.findall(text.lower() if self.do_lower_case else text)
        word_pieces = self._word_pieces
        try:
            return list(itertools.chain.from_iterable(map(word_pieces.__getitem__, words)))
        except KeyError:
            pass
        if len(word_pieces) > _CACHE_SIZE:
            word_pieces.clear()
        for word in words:
            if word not in word_pieces:
                word_pieces[word] = self._wordpiece(word)
        return list(itertools.chain.from_iterable(map(word_pieces.__getitem__, words)))

    def _wordpiece(self, word):
        """Greedy longest-match-first WordPiece of one word, as Google's WordpieceTokenizer."""
        vocab = self.vocab
        if len(word) > MAX_INPUT_CHARS_PER_WORD:
            return ["[UNK]"]
        if word in vocab:
            return [word]
        pieces = []
        start = 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in vocab:
                    break
            else:
                return ["[UNK]"]
            pieces.append(piece)
            start = end
        return pieces

    def convert_tokens_to_ids(self, tokens):
        """The vocab id of each token."""
        return [self.vocab[token] for token in tokens]

    def convert_ids_to_tokens(self, ids):
        """The token of each vocab id."""
        return [self.inv_vocab[index] for index in ids]

    def encode_batch(self, texts):
        """Tokenizes many texts at once (in parallel threads); returns one `Encoding` each."""
        return [
            Encoding(encoding.tokens, encoding.ids, encoding.offsets)
            for encoding in self._backend.encode_batch([self._final_sigmas(text) for text in texts], add_special_tokens=False)
        ]

    def _backend_ids(self, texts):
        """Token ids of each text from the Rust backend, in one batch."""
        encodings = self._backend.encode_batch_fast([self._final_sigmas(text) for text in texts], add_special_tokens=False)
        return [encoding.ids for encoding in encodings]

    def _final_sigmas(self, text):
        """Writes each capital sigma that Google's lower-casing makes final (ς) as ς.

        Python's `str.lower`, which Google's tokenizer applies to each whitespace token of
        the cleaned text, turns a word-final Σ into ς; the Rust lower-casing always gives σ.
        Length-preserving, so character offsets stay valid.
        """
        if not self.do_lower_case or _CAPITAL_SIGMA not in text:
            return text
        chars = list(text)
        for position, char in enumerate(chars):
            if char == _CAPITAL_SIGMA:
                left, right = _google_token_around(text, position)
                if (left + _CAPITAL_SIGMA + right).lower()[len(left)] == "\u03c2":
                    chars[position] = "\u03c2"
        return "".join(chars)


_CAPITAL_SIGMA = "\u03a3"


def _google_token_around(text, position):
    """The parts of the cleaned whitespace token left and right of `text[position]`.

    Follows Google's BasicTokenizer: NUL, U+FFFD and control characters are dropped;
    whitespace and CJK characters end a token.
    """

    def collect(indices):
        kept = []
        for index in indices:
            char = text[index]
            if _is_dropped(char):
                continue
            if _is_whitespace(char) or _is_cjk(char):
                break
            kept.append(char)
        return kept

    left = collect(range(position - 1, -1, -1))[::-1]
    right = collect(range(position + 1, len(text)))
    return "".join(left), "".join(right)


def _is_dropped(char):
    if char in "\t\n\r":
        return False
    return ord(char) in (0, 0xFFFD) or unicodedata.category(char).startswith("C")


def _is_whitespace(char):
    return char in " \t\n\r" or unicodedata.category(char) == "Zs"


_CJK_RANGES = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)


def _is_cjk(char):
    code = ord(char)
    return any(low <= code <= high for low, high in _CJK_RANGES)


def bert_normalizer(do_lower_case):
    """The `tokenizers` normalizer of Google's BasicTokenizer before its splits.

    Removes NUL, U+FFFD and control characters and normalises whitespace, puts spaces
    around every CJK character, and lower-cases and strips accents when `do_lower_case`.
    """
    return normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=do_lower_case, lowercase=do_lower_case
    )


def _build_backend(vocab, do_lower_case):
    """A `tokenizers.Tokenizer` configured to match Google's BasicTokenizer + WordpieceTokenizer."""
    model = tokenizers.models.WordPiece(
        vocab=dict(vocab),
        unk_token="[UNK]",
        continuing_subword_prefix="##",
        max_input_chars_per_word=MAX_INPUT_CHARS_PER_WORD,
    )
    backend = tokenizers.Tokenizer(model)
    backend.normalizer = bert_normalizer(do_lower_case)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return backend
