"""bert/data/prepare_corpus.py on a tiny synthetic Wikipedia dump and books, and the checked-in samples."""

import bz2
import collections
import json
import os
import pathlib
import random
import subprocess
import sys

import pytest

from bert.data import prepare_corpus
from bert.errors import InputError

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO_ROOT / "data" / "sample"

PAGE = """  <page>
    <title>{title}</title>
    <ns>{ns}</ns>
    <id>{id}</id>{redirect}
    <revision>
      <id>{id}00</id>
      <text bytes="1" xml:space="preserve">{text}</text>
    </revision>
  </page>
"""

# MediaWiki export XML, with wikitext escaped as it is in a real dump.
ARTICLES = [
    ("Kettle", 0, 11, "", """A '''kettle''' is a vessel for boiling [[water]]. Most kettles are made of [[stainless steel|steel]] or plastic!
An electric kettle switches itself off when the water boils.&lt;ref&gt;A citation that must vanish.&lt;/ref&gt;

== History of kettles ==
The first electric kettles appeared around 1890. Were they fast? They were slow by modern standards.

[[Category:Kitchenware]]"""),
    ("Lighthouse", 0, 12, "", """A '''lighthouse''' is a tower with a bright lamp that guides ships at night. Salt &amp;amp; wind wear the paint away quickly.

== Keepers ==
Keepers used to live in small cottages beside the tower. Today most lights run automatically."""),
    ("Kettles", 0, 13, '\n    <redirect title="Kettle" />', "#REDIRECT [[Kettle]]"),
    ("Template:Stub", 10, 14, "", "This article is a stub."),
]

EXPECTED_WIKI_DOCUMENTS = [
    [
        "A kettle is a vessel for boiling water.",
        "Most kettles are made of steel or plastic!",
        "An electric kettle switches itself off when the water boils.",
        "The first electric kettles appeared around 1890.",
        "Were they fast?",
        "They were slow by modern standards.",
    ],
    [
        "A lighthouse is a tower with a bright lamp that guides ships at night.",
        "Salt & wind wear the paint away quickly.",
        "Keepers used to live in small cottages beside the tower.",
        "Today most lights run automatically.",
    ],
]


@pytest.fixture
def wiki_dump(tmp_path):
    """A bz2-compressed MediaWiki export with two articles, a redirect and a template."""
    pages = "".join(PAGE.format(title=t, ns=ns, id=i, redirect=r, text=text) for t, ns, i, r, text in ARTICLES)
    xml = f"""<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" xml:lang="en">
  <siteinfo>
    <sitename>Wikipedia</sitename>
    <dbname>enwiki</dbname>
    <base>https://en.wikipedia.org/wiki/Main_Page</base>
    <generator>MediaWiki 1.41.0</generator>
    <case>first-letter</case>
    <namespaces>
      <namespace key="0" case="first-letter" />
      <namespace key="10" case="first-letter">Template</namespace>
      <namespace key="14" case="first-letter">Category</namespace>
    </namespaces>
  </siteinfo>
{pages}</mediawiki>
"""
    path = tmp_path / "enwiki-test-pages-articles.xml.bz2"
    path.write_bytes(bz2.compress(xml.encode("utf-8")))
    return path


def read_documents(path):
    """Parses a shard back into documents, checking the format on the way."""
    text = pathlib.Path(path).read_text(encoding="utf-8")
    assert text.endswith("\n") and not text.endswith("\n\n"), "a shard ends with exactly one newline"
    assert not text.startswith("\n") and "\n\n\n" not in text, "exactly one blank line between documents"
    documents = [block.split("\n") for block in text[:-1].split("\n\n")]
    for sentences in documents:
        assert all(s and s == s.strip() for s in sentences)
    return documents


def test_wikipedia_dump_through_wikiextractor_and_blingfire(wiki_dump, tmp_path, capsys):
    extracted = tmp_path / "formatted"
    argv = ["--wiki-dump", str(wiki_dump), "--output-dir", str(tmp_path / "out"), "--num-shards", "1",
            "--extracted-dir", str(extracted), "--processes", "1"]
    assert prepare_corpus.main(argv) == 0
    assert "wrote 1 shards" in capsys.readouterr().out
    assert read_documents(tmp_path / "out" / "shard_0000.txt") == EXPECTED_WIKI_DOCUMENTS
    assert list(extracted.rglob("wiki_*")), "wikiextractor's output is kept for the next run"
    assert not extracted.with_name("formatted.tmp").exists()

    marker = next(extracted.rglob("wiki_*"))
    marker.write_text('<doc id="9" url="u" title="Cached">\nCached\n\nThis line proves the cache was used here.\n</doc>\n')
    assert prepare_corpus.main(argv) == 0
    assert read_documents(tmp_path / "out" / "shard_0000.txt") == [["This line proves the cache was used here."]]

    wiki_dump.write_bytes(wiki_dump.read_bytes())  # a new dump under the same name is extracted again
    os.utime(wiki_dump, ns=(0, 0))
    assert prepare_corpus.main(argv) == 0
    assert read_documents(tmp_path / "out" / "shard_0000.txt") == EXPECTED_WIKI_DOCUMENTS


def test_books_directory(tmp_path):
    books = tmp_path / "books"
    (books / "shelf").mkdir(parents=True)
    (books / "a_river.txt").write_text(
        "The river was high that spring,\nand the ferry ran only twice a day.\n\n"
        "Nobody in the village remembered such a flood. Even the miller was worried!\n", encoding="utf-8")
    (books / "shelf" / "b_garden.txt").write_text("Chapter One\n\nShe planted beans in May. They grew fast.\n", encoding="utf-8")
    (books / "notes.md").write_text("Not a book.\n", encoding="utf-8")
    paths, stats = prepare_corpus.write_shards(prepare_corpus.book_documents(books), tmp_path / "out", 1)
    assert stats["documents"] == 2
    assert read_documents(paths[0]) == [
        ["The river was high that spring, and the ferry ran only twice a day.",
         "Nobody in the village remembered such a flood.", "Even the miller was worried!"],
        ["Chapter One", "She planted beans in May.", "They grew fast."],
    ]


def synthetic_documents(count, seed=0):
    rng = random.Random(seed)
    words = "alpha beta gamma delta river stone light paper window garden".split()
    return [[f"Doc {d} line {s} " + " ".join(rng.choices(words, k=rng.randint(3, 30))) + "."
             for s in range(rng.randint(1, 25))] for d in range(count)]


def test_shards_are_balanced_and_hold_every_document_once(tmp_path):
    documents = synthetic_documents(120)
    paths, stats = prepare_corpus.write_shards(iter(documents), tmp_path / "out", 7, prefix="wiki")
    assert [p.name for p in paths] == [f"wiki_{i:04d}.txt" for i in range(7)]
    sizes = [p.stat().st_size for p in paths]
    assert sizes == stats["bytes"]
    largest_document = max(len("\n".join(d).encode()) + 2 for d in documents)
    assert max(sizes) - min(sizes) <= largest_document
    assert max(sizes) < 1.1 * sum(sizes) / 7
    written = [tuple(doc) for path in paths for doc in read_documents(path)]
    assert collections.Counter(written) == collections.Counter(tuple(d) for d in documents)
    assert stats == {"documents": 120, "sentences": sum(map(len, documents)), "bytes": sizes}


def test_rerun_replaces_old_shards(tmp_path):
    prepare_corpus.write_shards(synthetic_documents(10), tmp_path, 5)
    paths, _ = prepare_corpus.write_shards(synthetic_documents(10, seed=1), tmp_path, 2)
    assert sorted(tmp_path.iterdir()) == paths


def test_fewer_documents_than_shards_writes_nothing(tmp_path):
    with pytest.raises(InputError, match="only 3 documents for 4 shards"):
        prepare_corpus.write_shards(synthetic_documents(3), tmp_path / "out", 4)
    assert list((tmp_path / "out").iterdir()) == []


def test_empty_result_is_an_error(tmp_path):
    blank = tmp_path / "blank.txt"
    blank.write_text("\n \n\n", encoding="utf-8")
    with pytest.raises(InputError, match="no documents found"):
        prepare_corpus.main(["--text-file", str(blank), "--output-dir", str(tmp_path / "out"), "--num-shards", "1"])


@pytest.mark.parametrize("flag", ["--wiki-dump", "--books-dir", "--text-file"])
def test_missing_input_is_a_one_line_error(tmp_path, flag):
    missing = tmp_path / "nowhere"
    result = subprocess.run([sys.executable, "-m", "bert.data.prepare_corpus", flag, str(missing),
                             "--output-dir", str(tmp_path / "out")], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and str(missing) in result.stderr
    assert result.stderr.count("\n") == 1


def test_sample_corpus_format(tmp_path):
    text = (SAMPLE_DIR / "sample_corpus.txt").read_text(encoding="utf-8")
    documents = read_documents(SAMPLE_DIR / "sample_corpus.txt")
    assert 12 <= len(documents) <= 20
    assert sum(map(len, documents)) >= 200
    assert all(len(doc) >= 8 for doc in documents)
    assert all(s[-1] in ".!?" and s[0].isupper() for doc in documents for s in doc)
    assert len(set(s for doc in documents for s in doc)) == sum(map(len, documents)), "no repeated sentence"
    assert text.isascii()
    paths, stats = prepare_corpus.write_shards(prepare_corpus.formatted_documents(SAMPLE_DIR / "sample_corpus.txt"),
                                               tmp_path, 3)
    assert stats["documents"] == len(documents)
    assert sorted(doc for p in paths for doc in read_documents(p)) == sorted(documents)


@pytest.mark.parametrize("name, version, num_questions", [
    ("squad_v1.1_sample.json", "1.1", 48), ("squad_v1.1_dev_sample.json", "1.1", 32),
    ("squad_v2.0_sample.json", "v2.0", 38), ("squad_v1.1_demo_train.json", "1.1", 943),
    ("squad_v1.1_demo_dev.json", "1.1", 122)])
def test_squad_samples_have_exact_answer_offsets(name, version, num_questions):
    sample = json.loads((SAMPLE_DIR / name).read_text(encoding="utf-8"))
    assert sample["version"] == version
    questions = [(p["context"], qa) for article in sample["data"] for p in article["paragraphs"] for qa in p["qas"]]
    assert len(questions) == num_questions
    assert len({qa["id"] for _, qa in questions}) == len(questions)
    impossible = 0
    for context, qa in questions:
        assert qa["question"].endswith("?")
        if qa.get("is_impossible"):
            impossible += 1
            assert qa["answers"] == [] and qa["plausible_answers"]
        else:
            assert qa["answers"]
        for answer in qa["answers"] + qa.get("plausible_answers", []):
            start = answer["answer_start"]
            assert context[start:start + len(answer["text"])] == answer["text"], (qa["id"], answer)
    if version == "v2.0":
        assert all("is_impossible" in qa for _, qa in questions)
        assert 5 <= impossible < len(questions) / 2
    else:
        assert impossible == 0
