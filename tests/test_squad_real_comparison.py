"""The PyTorch side of benchmarks/squad_real_comparison.py, and the comparison itself on real questions.

Reference tier: transformers' windows and labels (benchmarks/torch_squad.py) must point at the
answers, and its answer selection must give them back. Slow + reference tier: MiniLM fine-tuned
by run_squad.py and by transformers on BIG-bench's human-written questions score alike.
"""

import json
import os
import subprocess
import textwrap

import pytest

from benchmarks import bigbench_data, squad_real_comparison

CONTEXT = ("The Amazon River in South America is the largest river by discharge volume of water in the world. "
           "It flows east for about 6,400 km and reaches the Atlantic Ocean near the city of Belem. "
           "The river basin covers about 7 million square kilometres, of which 5.5 million are rainforest. ") * 3


def reference_python():
    python = os.environ.get("BERT_REFERENCE_PYTHON")
    if not python:
        pytest.fail("BERT_REFERENCE_PYTHON is not set: run the reference tier with `scripts/test.sh -m reference`")
    return python


@pytest.mark.reference
def test_pytorch_windows_label_the_answers_and_selection_returns_them(minilm, tmp_path):
    """Every answer start in CONTEXT (three copies) at seq 64, stride 16: each window holding the answer labels
    tokens whose offsets cut exactly the answer text; the others label [CLS]; logits peaked on the labels give
    the answers back through run_qa's selection."""
    answers = ["Amazon River", "South America", "6,400 km", "Atlantic Ocean", "Belem", "7 million",
               "rainforest", "Belem. The"]
    questions = [{"id": f"q{i}", "question": "  where?", "answers": [{"text": text, "answer_start": start}]}
                 for i, text in enumerate(answers) for start in [CONTEXT.index(text), CONTEXT.rindex(text)]]
    for number, question in enumerate(questions):
        question["id"] += f"_{number}"
    squad = tmp_path / "train.json"
    squad.write_text(json.dumps({"data": [{"title": "t", "paragraphs": [{"context": CONTEXT, "qas": questions}]}]}),
                     encoding="utf-8")
    script = textwrap.dedent(f"""
        import json, sys
        import numpy as np
        from transformers import BertTokenizerFast
        from benchmarks import torch_squad
        args = torch_squad.parse_args(["--model_dir={minilm}", "--train_file={squad}", "--predict_file={squad}",
                                       "--output_dir=unused", "--max_seq_length=64", "--doc_stride=16"])
        tokenizer = BertTokenizerFast.from_pretrained(args.model_dir)
        questions = torch_squad.read_questions(args.train_file)
        encoded = torch_squad.tokenize_windows(tokenizer, questions, args)
        starts, ends = torch_squad.training_labels(encoded, questions)
        cut = []
        logits = np.full((2, len(starts), 64), -10.0)
        for window, (start, end) in enumerate(zip(starts, ends)):
            question = questions[encoded["overflow_to_sample_mapping"][window]]
            offsets = encoded["offset_mapping"][window]
            cut.append([question["id"], start, CONTEXT[offsets[start][0]:offsets[end][1]] if start else None])
            logits[0, window, start] = logits[1, window, end] = 10.0
        selected = torch_squad.best_answers(questions, encoded, logits[0], logits[1], 20, 30)
        print(json.dumps({{"cut": cut, "selected": selected, "tensorflow": "tensorflow" in sys.modules}}))
    """).replace("CONTEXT", repr(CONTEXT))
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    output = subprocess.run([reference_python(), "-c", script], capture_output=True, text=True, cwd=repo, check=True)
    result = json.loads(output.stdout.strip().splitlines()[-1])
    assert not result["tensorflow"]
    texts = {question["id"]: question["answers"][0]["text"] for question in questions}
    labelled = [(qid, text) for qid, start, text in result["cut"] if start]
    assert {qid for qid, _ in labelled} == set(texts)  # every answer lies whole in at least one window
    assert all(text == texts[qid] for qid, text in labelled)
    assert len(result["cut"]) > 3 * len(labelled) // 2  # most windows miss the answer and label [CLS]
    assert result["selected"] == texts


@pytest.mark.slow
@pytest.mark.reference
def test_run_squad_matches_pytorch_on_real_questions(minilm, tmp_path):
    """The benchmark's own recipe for one seed: MiniLM on 1,003 SQuADShifts new_wiki questions, scored on 503
    SQuAD v1.1 dev questions, seq 192, 3 epochs, lr 2e-4, seed 1, by run_squad.py and by transformers (run_qa.py's
    recipe). Ours at least PyTorch's F1 minus 8 (the seed alone moved either by 6 to 7), both at least 35 (a run
    that learned little scores 10 to 15). About 25 minutes on 2 idle cores.

    Seen on a 2-core AMD EPYC (family 25, model 17), seed 1: ours 48.93, PyTorch 42.70 (seed 2: 42.63, 49.68).
    A 400-question run was tried first: ours reached only F1 13.2, too close to a model that learned nothing.
    """
    python = reference_python()
    try:
        bigbench_data.fetch()
    except subprocess.CalledProcessError:
        pytest.skip(f"could not download bigbench=={bigbench_data.BIGBENCH_VERSION} (its sdist holds the questions)")
    work_dir = tmp_path / "work"
    squad_real_comparison.main([f"--work_dir={work_dir}", f"--model_dir={minilm}", f"--reference_python={python}",
                                "--seeds=1"])
    with open(work_dir / "results.json", encoding="utf-8") as f:
        runs = json.load(f)["runs"]
    ours, pytorch = runs["ours"]["1"]["f1"], runs["pytorch"]["1"]["f1"]
    print({"ours": ours, "pytorch": pytorch})
    assert ours >= pytorch - 8.0, (ours, pytorch)
    assert min(ours, pytorch) >= 35.0, (ours, pytorch)
