"""SQuAD v1.1 files of extractive questions generated from real English text.

Text: the prose of the Python reference documentation (`pydoc_data.topics`, in the
standard library) and of Vim's help files (`/usr/share/vim/vim90/doc`, when present), or
news: the Lee corpus of 350 ABC news articles that gensim's wheel ships as test data
(fetched with `pip download`; nothing is installed).

    documents -> contexts of 80 to 160 words -> questions -> train.json, dev.json, heldout.json

Each question is one sentence of its context with a short span (a noun phrase after a
determiner, a number, a quoted name or a capitalised name, never the sentence's first
word) replaced by "what", then perturbed (a leading clause moved to the end, one or two
words dropped) so that it is not a substring of the context. The splits come from
disjoint documents.

Example:
    >>> documents = lee_news_documents("/tmp/lee")
    >>> paths, summary = build_squad_files("/tmp/news_qa", {"train": 1600, "dev": 400, "heldout": 0},
    ...                                    seed=12345, documents=documents, questions_per_context=8,
    ...                                    contexts_per_document=6, min_context_words=80, max_context_words=160)
"""

import glob
import json
import os
import random
import re
import subprocess
import sys

DEFAULT_VIM_DOC_DIR = "/usr/share/vim/vim90/doc"
LEE_GENSIM_VERSION = "4.4.0"

_RULER = re.compile(r"^\s*([*=\-~^#]{3,})\s*$")
_VIM_BAR_TAG = re.compile(r"\|([^|\s]+)\|")
_VIM_STAR_TAG = re.compile(r"(?:^|\s)\*[^*\s]+\*(?=\s|$)")
# Patch logs, to-do lists and indexes: lists of fragments rather than prose.
_VIM_NOT_PROSE = r"(version\d|todo|index|quickref|tags|builtin|options|usr_toc|help)\b"
_PLAIN_WORD = re.compile(r"^[(\"']?[A-Za-z][A-Za-z'\-]*[.,;:)?!\"']*$")


def _paragraphs(lines):
    """Runs of consecutive non-empty lines, each joined into one whitespace-normalised string."""
    paragraph = []
    for line in lines + [""]:
        if line.strip():
            paragraph.append(line.strip())
        elif paragraph:
            yield " ".join(" ".join(paragraph).split())
            paragraph = []


def _is_prose(paragraph):
    words = paragraph.split()
    if len(words) < 12 or not re.search(r"[.!?]$", paragraph) or "::=" in paragraph:
        return False
    plain = sum(1 for word in words if _PLAIN_WORD.match(word))
    return plain >= 0.8 * len(words)


def _pydoc_prose_lines(text):
    """Lines of one `pydoc_data.topics` entry with code, grammar and headings blanked out."""
    lines = text.splitlines()
    kept = []
    for i, line in enumerate(lines):
        next_line = lines[i + 1] if i + 1 < len(lines) else ""
        if line[:1].isspace() or _RULER.match(line) or _RULER.match(next_line):
            kept.append("")  # indented code or grammar, a ruler, or the heading above one
        elif re.match(r"^([*+\-]|\d+\.)\s", line):
            kept.append("")  # list items read as fragments
        else:
            kept.append(line)
    return kept


def _vim_prose_lines(text):
    """Lines of one Vim help file: tags unwrapped, examples, headings and tables blanked out."""
    kept = []
    for line in text.splitlines():
        if line.startswith("\t") or line.startswith("    ") or _RULER.match(line) or line.rstrip().endswith("~") \
                or "\t" in line.strip() or re.match(r"^[A-Z0-9 ,'\-]+$", line.strip()) \
                or re.match(r"^\s*[*|]", line) or line.startswith("<"):
            kept.append("")
            continue
        line = _VIM_STAR_TAG.sub(" ", line)
        line = _VIM_BAR_TAG.sub(r"\1", line)
        line = re.sub(r"\s>$", "", line.rstrip())  # "... this command: >" opens an example
        kept.append(line)
    return kept


def news_documents(path):
    """[(document name, [the article])] from a file holding one news article per line."""
    with open(path, encoding="utf-8", errors="replace") as f:
        articles = [" ".join(line.split()) for line in f]
    name = os.path.basename(path)
    return [(f"{name}:{number}", [article]) for number, article in enumerate(articles) if article]


def fetch_lee_news(folder):
    """Paths of the Lee corpus (ABC news articles, one per line) from gensim's wheel on PyPI.

    gensim ships the 300 articles of `lee_background.cor` and the 50 of `lee.cor` as test
    data; the wheel is downloaded with pip (no dependencies, nothing installed) and only
    those two files are unpacked into `folder`.
    """
    import zipfile

    names = ("lee_background.cor", "lee.cor")
    paths = [os.path.join(folder, name) for name in names]
    if all(os.path.exists(path) for path in paths):
        return paths
    os.makedirs(folder, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", folder,
                    f"gensim=={LEE_GENSIM_VERSION}"], check=True)
    wheel, = glob.glob(os.path.join(folder, f"gensim-{LEE_GENSIM_VERSION}-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        for name, path in zip(names, paths):
            with open(path + ".tmp", "wb") as f:
                f.write(archive.read(f"gensim/test/test_data/{name}"))
            os.replace(path + ".tmp", path)
    os.remove(wheel)
    return paths


def lee_news_documents(folder):
    """`news_documents` of both Lee corpus files, fetched into `folder` if needed."""
    return [document for path in fetch_lee_news(folder) for document in news_documents(path)]


def prose_documents(vim_doc_dir):
    """[(document name, [prose paragraph, ...])] from pydoc_data.topics and Vim's help files."""
    from pydoc_data.topics import topics

    documents = []
    for name in sorted(topics):
        documents.append((f"pydoc:{name}", [p for p in _paragraphs(_pydoc_prose_lines(topics[name])) if _is_prose(p)]))
    if vim_doc_dir and os.path.isdir(vim_doc_dir):
        for path in sorted(glob.glob(os.path.join(vim_doc_dir, "*.txt"))):
            if re.match(_VIM_NOT_PROSE, os.path.basename(path)):
                continue
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
            name = f"vim:{os.path.basename(path)}"
            documents.append((name, [p for p in _paragraphs(_vim_prose_lines(text)) if _is_prose(p)]))
    return [(name, paragraphs) for name, paragraphs in documents if paragraphs]


def sentence_spans(text):
    """(start, end) character spans of the sentences of `text`."""
    spans, start = [], 0
    for boundary in re.finditer(r"(?<=[.!?])\s+(?=[\"'(A-Z0-9])", text):
        if not re.search(r"(\b(e\.g|i\.e|ie|eg|etc|vs|cf|Mr|Dr|St|No|Vol|Fig)|\b[A-Z])\.$", text[start:boundary.start()]):
            spans.append((start, boundary.start()))
            start = boundary.end()
    spans.append((start, len(text)))
    return spans


def contexts_of(paragraphs, min_words=80, max_words=250):
    """Consecutive paragraphs merged into contexts of `min_words` to `max_words` words."""
    pieces = []
    for paragraph in paragraphs:  # long paragraphs are cut at sentence ends
        chunk = []
        for start, end in sentence_spans(paragraph):
            sentence = paragraph[start:end]
            if chunk and len(" ".join(chunk + [sentence]).split()) > max_words:
                pieces.append(" ".join(chunk))
                chunk = []
            chunk.append(sentence)
        if chunk:
            pieces.append(" ".join(chunk))
    contexts, current = [], []
    for piece in pieces:
        if current and len(" ".join(current + [piece]).split()) > max_words:
            if len(" ".join(current).split()) >= min_words:
                contexts.append(" ".join(current))
            current = []
        current.append(piece)
        if len(" ".join(current).split()) >= (min_words + max_words) // 2:
            contexts.append(" ".join(current))
            current = []
    if current and len(" ".join(current).split()) >= min_words:
        contexts.append(" ".join(current))
    return [context for context in contexts if len(context.split()) <= max_words]


_DETERMINERS = {"the", "a", "an", "each", "every", "its", "their", "your"}
_STOP = {"a", "an", "the", "of", "in", "to", "is", "are", "was", "be", "been", "and", "or", "that", "which", "with",
         "for", "by", "as", "on", "at", "from", "it", "can", "will", "may", "must", "should", "not", "if", "when",
         "than", "then", "but", "into", "so", "this", "these", "those", "there", "has", "have", "does", "do", "you",
         "use", "used", "uses", "using", "only", "also", "all", "no", "any", "such", "like", "would", "could", "where",
         "who", "what", "how", "its", "their", "your", "isn't", "doesn't", "don't", "since", "while", "after",
         "before", "until", "because", "about", "over", "under", "between", "without", "within", "through", "via"}
# Words that end a noun phrase: prepositions, conjunctions, auxiliaries.
_CLOSING = {"of", "in", "to", "is", "are", "was", "were", "be", "and", "or", "that", "which", "with", "for", "by", "as",
            "on", "at", "from", "can", "will", "may", "must", "should", "would", "could", "has", "have", "does", "when",
            "if", "than", "into", "but", "where", "while", "after", "before", "until", "because", "about", "without"}
_DROPPABLE = {"also", "only", "then", "just", "very", "usually", "simply", "always", "normally", "really",
              "actually", "however,", "currently", "still", "already", "often", "generally", "first", "now",
              "here", "even", "quite", "rather", "mostly", "probably", "thus", "therefore", "typically"}
_EDGE_PUNCT = ".,;:!?)(\"'"


def _core(word):
    """(offset of the first kept character, the word without edge punctuation)."""
    stripped = word.strip(_EDGE_PUNCT)
    return word.find(stripped) if stripped else 0, stripped


def _answer_candidates(sentence, words):
    """[(kind, first word index, last word index, start char, end char)] within one sentence.

    `words` are (start, end, text) of the sentence's whitespace tokens; character offsets
    are relative to `sentence`. The replaced region starts at the first index (a
    determiner or quote included) and the answer span is [start char, end char).
    """
    candidates = []
    for i in range(1, len(words)):
        start, end, word = words[i]
        offset, core = _core(word)
        lower = core.lower()
        if re.fullmatch(r"\d+(\.\d+)?", core):
            candidates.append(("number", i, i, start + offset, start + offset + len(core)))
        elif word[:1] in "\"'" and len(word) > 2:
            for j in range(i, min(i + 4, len(words))):
                if words[j][2].rstrip(".,;:!?)").endswith(word[0]) and (j > i or len(word.rstrip(".,;:!?)")) > 2):
                    close = words[j][0] + len(words[j][2].rstrip(".,;:!?)")) - 1
                    if close > start + 1 and len(re.findall(r"\w", sentence[start + 1:close])) >= 2:
                        candidates.append(("quoted", i, j, start + 1, close))
                    break
        elif lower in _DETERMINERS and word == core:
            # One to three plain words after the determiner, closed by punctuation or by a
            # function word; a phrase running into anything else (often a verb) is no answer.
            last, closed = None, False
            for j in range(i + 1, min(i + 5, len(words))):
                offset_j, core_j = _core(words[j][2])
                if last is not None and not offset_j and core_j.lower() in _CLOSING:
                    closed = True
                    break
                if j == i + 4 or offset_j or not re.fullmatch(r"[A-Za-z][A-Za-z\-]*", core_j) \
                        or core_j.lower() in _STOP:
                    break
                last = j
                if core_j != words[j][2][offset_j:]:  # punctuation after the word ends the phrase
                    closed = words[j][2][offset_j + len(core_j):][:1] in ".,;:!?)"
                    break
            if last is not None and closed:
                first_offset, _ = _core(words[i + 1][2])
                last_offset, last_core = _core(words[last][2])
                candidates.append(("phrase", i, last, words[i + 1][0] + first_offset,
                                   words[last][0] + last_offset + len(last_core)))
        elif re.fullmatch(r"[A-Z][a-z]+[A-Za-z]*", core) and word == core and words[i - 1][2][-1] not in ".:;!?":
            candidates.append(("name", i, i, start, end))
    return candidates


def _question_from(words, first, last, rng):
    """The sentence with words[first..last] replaced by "what", perturbed, ending in "?"."""
    tokens = [w for _, _, w in words[:first]] + ["what"] + [w for _, _, w in words[last + 1:]]
    tokens[-1] = tokens[-1].rstrip(".!?:;,")
    if not tokens[-1]:
        tokens.pop()
    what = first
    # Move a leading clause ("In this case, ...") to the end when "what" is not in it.
    comma = next((k for k, token in enumerate(tokens[:len(tokens) // 2]) if token.endswith(",")), None)
    if comma is not None and 1 <= comma < what - 1 and rng.random() < 0.7:
        head, tail = tokens[:comma + 1], tokens[comma + 1:]
        head[-1] = head[-1].rstrip(",")
        if head[0][1:2].islower():
            head[0] = head[0][0].lower() + head[0][1:]
        tail[-1] = tail[-1] + ","
        tokens = tail + head
        what -= comma + 1
    droppable = [k for k, token in enumerate(tokens) if token.lower() in _DROPPABLE and abs(k - what) > 1]
    if not droppable:
        droppable = [k for k in range(1, len(tokens) - 1) if abs(k - what) > 2 and tokens[k].lower() in _STOP]
    for k in sorted(rng.sample(droppable, min(len(droppable), rng.choice([1, 2]))), reverse=True):
        del tokens[k]
    question = " ".join(tokens)
    return question[:1].upper() + question[1:] + "?"


def make_questions(context, rng, max_questions, id_prefix="q"):
    """Up to `max_questions` SQuAD v1.1 questions about `context`, each from a different sentence."""
    normalised_context = " ".join(context.lower().split())
    sentences = [span for span in sentence_spans(context) if 7 <= len(context[span[0]:span[1]].split()) <= 45]
    rng.shuffle(sentences)
    questions = []
    for sentence_start, sentence_end in sentences:
        if len(questions) == max_questions:
            break
        sentence = context[sentence_start:sentence_end]
        words = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", sentence)]
        if sum(1 for *_, word in words if _PLAIN_WORD.match(word)) < 0.85 * len(words):
            continue  # code, options and symbols make questions nobody would ask
        candidates = _answer_candidates(sentence, words)
        if not candidates:
            continue
        kinds = sorted({kind for kind, *_ in candidates})
        kind = rng.choice(kinds)  # every kind of answer equally likely, whatever the sentence has most of
        _, first, last, answer_start, answer_end = rng.choice([c for c in candidates if c[0] == kind])
        answer = sentence[answer_start:answer_end]
        question = _question_from(words, first, last, rng)
        if answer.lower() in question.lower() or " ".join(question[:-1].lower().split()) in normalised_context:
            continue
        start = sentence_start + answer_start
        if context[start:start + len(answer)] != answer:
            raise AssertionError(f"answer_start {start} does not point at {answer!r}")
        questions.append({"id": f"{id_prefix}-{len(questions)}", "question": question,
                          "answers": [{"text": answer, "answer_start": start}]})
    return questions


def build_squad_files(work_dir, num_questions, seed, documents, questions_per_context, contexts_per_document,
                      min_context_words, max_context_words):
    """Writes train.json, dev.json and heldout.json (SQuAD v1.1) from disjoint documents.

    Documents are taken in a seeded random order, each whole into whichever of train and
    dev is further from its size (`num_questions["train"]`, `["dev"]`), at most
    `contexts_per_document` contexts each, so that both draw on many documents. The
    documents left over then fill heldout.json (`num_questions["heldout"]`, may be 0),
    which only the precision check reads.

    Returns:
        ({split: path}, summary dict).
    """
    documents = list(documents)
    rng = random.Random(seed)
    rng.shuffle(documents)
    splits = ("dev", "train", "heldout")
    sets = {split: [] for split in splits}
    counts = {split: 0 for split in splits}
    summary = {name: {split: 0 for split in splits} for name in ("documents", "contexts", "words")}
    for document_number, (name, paragraphs) in enumerate(documents):
        split = min(("dev", "train"), key=lambda s: counts[s] / num_questions[s])
        if counts[split] >= num_questions[split]:
            split = "heldout"
            if counts[split] >= num_questions[split]:
                break
        article = {"title": name, "paragraphs": []}
        contexts = contexts_of(paragraphs, min_context_words, max_context_words)[:contexts_per_document]
        for context_number, context in enumerate(contexts):
            room = num_questions[split] - counts[split]
            if room <= 0:
                break
            prefix = f"{split}-{document_number}-{context_number}"
            questions = make_questions(context, rng, min(questions_per_context, room), prefix)
            if questions:
                article["paragraphs"].append({"context": context, "qas": questions})
                counts[split] += len(questions)
                summary["contexts"][split] += 1
                summary["words"][split] += len(context.split())
        if article["paragraphs"]:
            sets[split].append(article)
            summary["documents"][split] += 1
    for split in splits:
        if counts[split] < num_questions[split]:
            raise SystemExit(f"error: the text on this machine gave only {counts[split]} {split} questions "
                             f"(asked for {num_questions[split]}); raise --contexts_per_document or ask for fewer")
    os.makedirs(work_dir, exist_ok=True)
    paths = {}
    for split, articles in sets.items():
        paths[split] = os.path.join(work_dir, f"{split}.json")
        with open(paths[split], "w", encoding="utf-8") as f:
            json.dump({"version": "1.1", "data": articles}, f, indent=1, ensure_ascii=False)
    summary["questions"] = counts
    return paths, summary
