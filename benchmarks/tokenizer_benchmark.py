"""FullTokenizer's Python WordPiece path against the plain Rust `tokenizers` library, on real text.

Two jobs, each done by every contender on the same text, outputs required identical:

* `tokenize`: one call per non-empty line, as Google's scripts call `tokenize(text)`.
  Ours is `FullTokenizer.tokenize`; the library's is `Tokenizer.encode(line).tokens`, and
  as its best case one `encode_batch_fast` of all lines (tokens looked up from the ids).
* `batch ids`: the token ids of the distinct whitespace-separated words of the text, in
  one call, which is what create_pretraining_data's `WordCache` and SQuAD featurization
  ask for. Ours is `FullTokenizer.batch_token_ids`; the library's `encode_batch_fast`.

The library's tokenizer is built here from its own parts, configured as Google's
algorithm (BERT normalizer, BERT pre-tokenizer, WordPiece with `##` and the 200-character
limit). `--google` adds Google's pure-Python algorithm to the `tokenize` job (the port kept
in `transformers`); `--previous REV` adds `FullTokenizer` as it was at git revision REV.
Every contender starts fresh (empty caches) in each of `--rounds` rounds, the order of
the contenders rotating; the fastest wall and CPU times of each count. The library
runs `encode_batch_fast` in threads unless TOKENIZERS_PARALLELISM=false (which
create_pretraining_data's workers set).

Corpora (comma-separated): `pydoc` (the Python language reference, `pydoc_data.topics`),
`docstrings` (the docstrings of the standard library's modules), or globs of UTF-8 files.

    python -m benchmarks.tokenizer_benchmark --vocab_file VOCAB --corpus pydoc --rounds 5
"""

import argparse
import ast
import glob
import os
import subprocess
import sys
import time
import types

import tokenizers

from bert.text import tokenization


def module_at_revision(path, revision):
    """The Python module at `path` (from the repository root) as it was at git `revision`."""
    source = subprocess.run(["git", "show", f"{revision}:{path}"], capture_output=True, text=True, check=True).stdout
    name = f"{path}@{revision[:10]}"
    module = types.ModuleType(name)
    exec(compile(source, name, "exec"), module.__dict__)
    return module


def corpus_text(spec):
    """The text of one corpus: `pydoc`, `docstrings` or a glob of UTF-8 files."""
    if spec == "pydoc":
        from pydoc_data.topics import topics

        return "\n\n".join(topics[name] for name in sorted(topics))
    if spec == "docstrings":
        return "\n\n".join(stdlib_docstrings())
    paths = sorted(glob.glob(spec))
    if not paths:
        sys.exit(f"--corpus: {spec!r} matches no file")
    texts = []
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            texts.append(f.read())
    return "\n\n".join(texts)


def stdlib_docstrings():
    """The docstrings of the standard library's top-level modules, their classes and functions."""
    documented = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    docstrings = []
    for path in sorted(glob.glob(os.path.join(os.path.dirname(os.__file__), "*.py"))):
        with open(path, encoding="utf-8", errors="replace") as f:
            try:
                tree = ast.parse(f.read())
            except SyntaxError:
                continue
        docstrings += [doc for node in ast.walk(tree) if isinstance(node, documented)
                       for doc in [ast.get_docstring(node)] if doc]
    return docstrings


def library_tokenizer(vocab, do_lower_case):
    """The plain `tokenizers.Tokenizer` doing Google's algorithm."""
    wordpiece = tokenizers.models.WordPiece(vocab=dict(vocab), unk_token="[UNK]", max_input_chars_per_word=200)
    library = tokenizers.Tokenizer(wordpiece)
    library.normalizer = tokenization.bert_normalizer(do_lower_case)
    library.pre_tokenizer = tokenizers.pre_tokenizers.BertPreTokenizer()
    return library


def google_tokenize(vocab_file, do_lower_case):
    """Google's tokenize(text), from the pure-Python port in `transformers`."""
    from transformers.models.bert import tokenization_bert_legacy as legacy

    basic = legacy.BasicTokenizer(do_lower_case=do_lower_case, never_split=None)
    wordpiece = legacy.WordpieceTokenizer(vocab=legacy.load_vocab(vocab_file), unk_token="[UNK]",
                                          max_input_chars_per_word=200)
    return lambda text: [piece for token in basic.tokenize(text) for piece in wordpiece.tokenize(token)]


def contenders(args, vocab):
    """{job: {name: maker}}; a maker builds a fresh tokenizer and returns the job's function of the input."""
    lower = not args.cased

    def ours():
        return tokenization.FullTokenizer(args.vocab_file, lower)

    def library():
        return library_tokenizer(vocab, lower)

    inverse = {index: token for token, index in vocab.items()}
    tokenize = {
        "FullTokenizer.tokenize": lambda: per_line(ours().tokenize),
        "library encode, per line": lambda: per_line(library_tokens(library())),
        "library encode_batch_fast, all lines": lambda: library_batch(library(), inverse.get),
    }
    batch_ids = {
        "FullTokenizer.batch_token_ids": lambda: ours().batch_token_ids,
        "library encode_batch_fast": lambda: library_batch(library(), None),
    }
    if args.google:
        tokenize["Google's pure Python"] = lambda: per_line(google_tokenize(args.vocab_file, lower))
    if args.previous:
        previous = module_at_revision("bert/text/tokenization.py", args.previous)
        label = f"FullTokenizer at {args.previous[:10]}"
        tokenize[label] = lambda: per_line(previous.FullTokenizer(args.vocab_file, lower).tokenize)
        batch_ids[label] = lambda: previous.FullTokenizer(args.vocab_file, lower).batch_token_ids
    return {"tokenize": tokenize, "batch ids": batch_ids}


def per_line(tokenize):
    """A function of many lines calling `tokenize` on each."""
    return lambda lines: list(map(tokenize, lines))


def library_tokens(library):
    """The library's tokens of one text (no special tokens)."""
    return lambda text: library.encode(text, add_special_tokens=False).tokens


def library_batch(library, token_of_id):
    """A function of many texts: one `encode_batch_fast`; each text's ids, or tokens via `token_of_id`."""
    def run(texts):
        encodings = library.encode_batch_fast(texts, add_special_tokens=False)
        if token_of_id is None:
            return [encoding.ids for encoding in encodings]
        return [list(map(token_of_id, encoding.ids)) for encoding in encodings]

    return run


def time_job(makers, data, rounds):
    """{name: (fastest wall s, fastest CPU s)}; exits if two contenders' outputs differ."""
    best = {name: (float("inf"), float("inf")) for name in makers}
    names = list(makers)
    for round_index in range(rounds):
        outputs = {}
        for name in names[round_index % len(names):] + names[:round_index % len(names)]:
            run = makers[name]()
            wall, cpu = time.perf_counter(), time.process_time()
            outputs[name] = run(data)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
        first = outputs[names[0]]
        for name, output in outputs.items():
            if output != first:
                sys.exit(f"{name} and {names[0]} differ")
    return best


def report(job, best, what):
    """Prints one job's table: each contender's time and the ratio to the first contender's."""
    ours_wall, ours_cpu = next(iter(best.values()))
    print(f"\n{job}: {what}")
    print("| contender | wall ms | CPU ms | ratio to ours, wall / CPU |\n|---|---|---|---|")
    for name, (wall, cpu) in best.items():
        print(f"| {name} | {wall * 1e3:.1f} | {cpu * 1e3:.1f} | {wall / ours_wall:.2f}x / {cpu / ours_cpu:.2f}x |")


def describe(args, text, lines, words):
    """Prints the corpus's sizes and the run's settings."""
    plain = sum(1 for line in lines if tokenization._SIMPLE_TEXT.fullmatch(line))  # the Python path's lines
    parallelism = os.environ.get("TOKENIZERS_PARALLELISM", "(unset)")
    print(f"corpus {args.corpus}: {len(text) / 1e6:.2f} M characters, {len(lines):,} lines "
          f"({len(lines) - plain:,} not plain ASCII + common punctuation), {len(words):,} distinct words; "
          f"do_lower_case={not args.cased}; TOKENIZERS_PARALLELISM={parallelism}; "
          f"fastest of {args.rounds} rounds; load average {os.getloadavg()[0]:.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vocab_file", required=True)
    parser.add_argument("--corpus", default="pydoc", help="comma-separated: pydoc, docstrings or globs")
    parser.add_argument("--cased", action="store_true", help="do_lower_case=False")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--google", action="store_true", help="add Google's algorithm (needs transformers)")
    parser.add_argument("--previous", metavar="REV", help="add FullTokenizer as it was at git revision REV")
    args = parser.parse_args()
    text = "\n\n".join(corpus_text(spec) for spec in args.corpus.split(","))
    lines = [line for line in text.splitlines() if line.strip()]
    words = list(dict.fromkeys(text.split()))
    jobs = contenders(args, tokenization.load_vocab(args.vocab_file))
    describe(args, text, lines, words)
    best = time_job(jobs["tokenize"], lines, args.rounds)
    tokens = sum(map(len, tokenization.FullTokenizer(args.vocab_file, not args.cased).batch_token_ids(lines)))
    report("tokenize", best, f"{len(lines):,} lines, {tokens:,} tokens, outputs identical")
    report("batch ids", time_job(jobs["batch ids"], words, args.rounds),
           f"{len(words):,} distinct words, outputs identical")
    print(f"\nload average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
