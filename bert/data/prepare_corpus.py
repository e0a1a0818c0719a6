"""Turns a Wikipedia dump, a folder of books or formatted text into balanced pretraining shards.

The output is Google's pretraining input format, which `create_pretraining_data.py`
reads: one sentence per line and one blank line between documents.

Sources (any mix; their documents are pooled):
  - a Wikipedia dump (`.xml` or `.xml.bz2`): `wikiextractor` runs on it as a subprocess
    and its `<doc ...> ... </doc>` blocks are read back. The title line and short lines
    (section headings, which wikiextractor emits as "History.") are dropped, HTML
    entities are decoded and each paragraph is split into sentences with `blingfire`.
  - a folder of plain-text books (BookCorpus has no public source any more): one book
    per `*.txt` file, paragraphs separated by blank lines, hard-wrapped lines joined.
  - text files already in the pretraining format (e.g. `data/sample/sample_corpus.txt`).

Documents go, as they stream past, to whichever shard holds the fewest bytes so far,
so no two shards differ by more than the largest document. Shards are written to
temporary files and renamed into place only when all of them are complete.

Example:
    python -m bert.data.prepare_corpus --wiki-dump data/download/wikicorpus_en/enwiki-latest-pages-articles.xml.bz2 \\
        --output-dir data/prepared/wikicorpus_en --num-shards 256
    python -m bert.data.prepare_corpus --text-file data/sample/sample_corpus.txt --output-dir /tmp/sample --num-shards 2
"""

import argparse
import heapq
import html
import importlib.util
import os
import pathlib
import re
import shutil
import subprocess
import sys

from bert.errors import InputError, run_main

DATA_DIR = pathlib.Path(__file__).resolve().parent
DOC_START = re.compile(r'^<doc id="[^"]*".*>$')


def split_sentences(paragraphs):
    """Splits each paragraph with blingfire; returns the non-empty sentences, in order."""
    import blingfire  # imported here so the other readers work without it

    sentences = []
    for paragraph in paragraphs:
        paragraph = " ".join(paragraph.split())
        if paragraph:
            sentences.extend(s.strip() for s in blingfire.text_to_sentences(paragraph).split("\n") if s.strip())
    return sentences


def _dump_identity(dump):
    """A line that changes when the dump file is replaced (a newer "latest" dump, say)."""
    stat = dump.stat()
    return f"{dump.resolve()} {stat.st_size} {stat.st_mtime_ns}\n"


def run_wikiextractor(dump, extracted_dir, processes=1):
    """Runs wikiextractor on `dump` into `extracted_dir`, unless it already holds this dump's text.

    It writes into `<extracted_dir>.tmp` and renames the folder only after a clean exit,
    so an existing `extracted_dir` always holds a complete extraction; its `SOURCE` file
    names the dump it came from. The log goes to `<extracted_dir>.log`.

    Raises:
      InputError: when the dump is missing, wikiextractor is not installed or it fails.
    """
    dump, extracted_dir = pathlib.Path(dump), pathlib.Path(extracted_dir)
    if not dump.is_file():
        raise InputError(f"Wikipedia dump {dump} not found (run: python -m bert.data.download wikicorpus)")
    source_file = extracted_dir / "SOURCE"
    if source_file.is_file() and source_file.read_text(encoding="utf-8") == _dump_identity(dump):
        return extracted_dir
    shutil.rmtree(extracted_dir, ignore_errors=True)
    if importlib.util.find_spec("wikiextractor") is None:
        raise InputError("the wikiextractor package is not installed (pip install wikiextractor==3.1.0)")
    staging = extracted_dir.with_name(extracted_dir.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    log_path = extracted_dir.with_name(extracted_dir.name + ".log")
    command = [sys.executable, "-m", "wikiextractor.WikiExtractor", str(dump), "--output", str(staging),
               "--bytes", "100M", "--processes", str(processes), "--discard_empty", "--quiet"]
    with open(log_path, "w", encoding="utf-8") as log:
        status = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
    if status != 0:
        lines = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        raise InputError(f"wikiextractor failed on {dump} (exit {status}): {lines[-1] if lines else 'no output'}; see {log_path}")
    staging.mkdir(exist_ok=True)  # a dump without articles leaves no folder behind
    (staging / "SOURCE").write_text(_dump_identity(dump), encoding="utf-8")
    os.replace(staging, extracted_dir)
    return extracted_dir


def read_extracted_docs(extracted_dir, min_words=5):
    """Yields each article of a wikiextractor output folder as a list of paragraphs.

    The first line of a block is the article title and is dropped, as is any line of
    fewer than `min_words` words (section headings, captions). HTML entities that
    wikiextractor keeps escaped (&amp;, &lt;) are decoded.
    """
    for path in sorted(p for p in pathlib.Path(extracted_dir).rglob("wiki_*") if p.is_file()):
        paragraphs, in_doc, seen_title = [], False, False
        with open(path, encoding="utf-8", errors="replace") as lines:
            for line in lines:
                line = line.strip()
                if DOC_START.match(line):
                    paragraphs, in_doc, seen_title = [], True, False
                elif line == "</doc>":
                    if in_doc and paragraphs:
                        yield paragraphs
                    in_doc = False
                elif in_doc and line:
                    if not seen_title:
                        seen_title = True
                    elif len(line.split()) >= min_words:
                        paragraphs.append(html.unescape(line))


def wiki_documents(dump, extracted_dir, processes=1, min_words=5):
    """Yields each Wikipedia article of `dump` as a list of sentences."""
    for paragraphs in read_extracted_docs(run_wikiextractor(dump, extracted_dir, processes), min_words):
        sentences = split_sentences(paragraphs)
        if sentences:
            yield sentences


def book_documents(books_dir):
    """Yields each `*.txt` book under `books_dir` (sorted by path) as a list of sentences.

    Raises:
      InputError: when the folder is missing or holds no `*.txt` file.
    """
    books_dir = pathlib.Path(books_dir)
    if not books_dir.is_dir():
        raise InputError(f"books folder {books_dir} not found")
    books = sorted(p for p in books_dir.rglob("*.txt") if p.is_file())
    if not books:
        raise InputError(f"books folder {books_dir} holds no *.txt file (one book per file expected)")
    for path in books:
        text = path.read_text(encoding="utf-8", errors="replace")
        paragraphs = [" ".join(block.split()) for block in re.split(r"\n\s*\n", text)]
        sentences = split_sentences(paragraphs)
        if sentences:
            yield sentences


def formatted_documents(path):
    """Yields each document of a file already in the pretraining format (blank-line separated).

    Raises:
      InputError: when the file is missing.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise InputError(f"text file {path} not found")
    sentences = []
    with open(path, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            line = line.strip()
            if line:
                sentences.append(line)
            elif sentences:
                yield sentences
                sentences = []
    if sentences:
        yield sentences


def shard_paths(output_dir, prefix, num_shards):
    """Names of the shards: `<prefix>_0000.txt` ... (at least four digits)."""
    width = max(4, len(str(num_shards - 1)))
    return [pathlib.Path(output_dir) / f"{prefix}_{index:0{width}d}.txt" for index in range(num_shards)]


def write_shards(documents, output_dir, num_shards, prefix="shard"):
    """Writes `documents` (lists of sentences) into `num_shards` balanced text shards.

    Each document goes to the shard with the fewest bytes so far. Shards of an earlier
    run with the same prefix are replaced; nothing changes on disk if this one fails.

    Args:
      documents: iterable of documents, each a list of sentence strings.
      output_dir: folder for the shards (created if needed).
      num_shards: how many shards to write, >= 1.
      prefix: file name prefix of the shards.

    Returns:
      (paths, stats): the shard paths, and a dict with "documents", "sentences" and
      "bytes" (a list of shard sizes).

    Raises:
      InputError: when there are no documents, or fewer documents than shards.
    """
    if num_shards < 1:
        raise InputError(f"--num-shards must be at least 1, got {num_shards}")
    output_dir = pathlib.Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = shard_paths(output_dir, prefix, num_shards)
    temporary = [path.with_name(f".{path.name}.tmp") for path in paths]
    sizes = [0] * num_shards
    smallest = [(0, index) for index in range(num_shards)]  # heap of (bytes, shard index)
    num_documents = num_sentences = 0
    files = [open(path, "w", encoding="utf-8", newline="\n") for path in temporary]
    try:
        for sentences in documents:
            sentences = [" ".join(s.split()) for s in sentences]
            sentences = [s for s in sentences if s]
            if not sentences:
                continue
            size, index = heapq.heappop(smallest)
            text = ("\n" if size else "") + "\n".join(sentences) + "\n"
            files[index].write(text)
            sizes[index] = size + len(text.encode("utf-8"))
            heapq.heappush(smallest, (sizes[index], index))
            num_documents += 1
            num_sentences += len(sentences)
        for file in files:
            file.close()
        if num_documents == 0:
            raise InputError("no documents found in the given sources: nothing to write")
        if num_documents < num_shards:
            raise InputError(f"only {num_documents} documents for {num_shards} shards; pass --num-shards {num_documents} or fewer")
    except BaseException:
        for file, path in zip(files, temporary):
            file.close()
            path.unlink(missing_ok=True)
        raise
    for stale in output_dir.glob(f"{prefix}_*.txt"):
        if stale not in paths:
            stale.unlink()
    for source, path in zip(temporary, paths):
        os.replace(source, path)
    return paths, {"documents": num_documents, "sentences": num_sentences, "bytes": sizes}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m bert.data.prepare_corpus",
        description="Turn a Wikipedia dump, a folder of books or formatted text into balanced pretraining shards "
        "(one sentence per line, a blank line between documents).",
    )
    parser.add_argument("--wiki-dump", type=pathlib.Path, action="append", default=[],
                        help="a Wikipedia pages-articles dump (.xml or .xml.bz2); repeatable")
    parser.add_argument("--books-dir", type=pathlib.Path, action="append", default=[],
                        help="a folder of plain-text books, one *.txt file per book; repeatable")
    parser.add_argument("--text-file", type=pathlib.Path, action="append", default=[],
                        help="a file already in the pretraining format; repeatable")
    parser.add_argument("--output-dir", type=pathlib.Path, required=True, help="folder for the shards")
    parser.add_argument("--num-shards", type=int, default=256, help="number of shards (default: 256)")
    parser.add_argument("--prefix", default="shard", help="shard file name prefix (default: shard)")
    parser.add_argument("--extracted-dir", type=pathlib.Path,
                        help="where wikiextractor's output is kept (default: data/formatted/<dump name>)")
    parser.add_argument("--processes", type=int, default=max(1, (os.cpu_count() or 2) - 1),
                        help="wikiextractor worker processes (default: %(default)s)")
    parser.add_argument("--min-words", type=int, default=5,
                        help="Wikipedia lines with fewer words are dropped as headings (default: 5)")
    return parser.parse_args(argv)


def main(argv=None):
    """Pools the documents of every source into shards and prints a one-line summary."""
    args = parse_args(argv)
    if not (args.wiki_dump or args.books_dir or args.text_file):
        raise InputError("no input: pass --wiki-dump, --books-dir or --text-file")
    for dump in args.wiki_dump:
        if not dump.is_file():
            raise InputError(f"Wikipedia dump {dump} not found (run: python -m bert.data.download wikicorpus)")
    for books_dir in args.books_dir:  # checked now, not after hours of Wikipedia
        if not books_dir.is_dir() or not any(books_dir.rglob("*.txt")):
            raise InputError(f"books folder {books_dir} not found or holds no *.txt file")
    for text_file in args.text_file:
        if not text_file.is_file():
            raise InputError(f"text file {text_file} not found")
    if args.extracted_dir and len(args.wiki_dump) > 1:
        raise InputError("--extracted-dir works with a single --wiki-dump")

    def documents():
        for dump in args.wiki_dump:
            extracted = args.extracted_dir or DATA_DIR / "formatted" / dump.name.split(".")[0]
            yield from wiki_documents(dump, extracted, args.processes, args.min_words)
        for books_dir in args.books_dir:
            yield from book_documents(books_dir)
        for text_file in args.text_file:
            yield from formatted_documents(text_file)

    paths, stats = write_shards(documents(), args.output_dir, args.num_shards, args.prefix)
    sizes = stats["bytes"]
    print(f"wrote {len(paths)} shards to {args.output_dir}: {stats['documents']} documents, "
          f"{stats['sentences']} sentences, {sum(sizes):,} bytes (shard sizes {min(sizes):,} to {max(sizes):,})")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
