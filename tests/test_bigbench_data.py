"""benchmarks/bigbench_data.py on small files in the layouts of BIG-bench's squad_shifts and paragraph_segmentation."""

import json
import subprocess

import pytest

from benchmarks import bigbench_data


def paragraph(context, *answers_per_question):
    return {"context": context, "qas": [
        {"id": f"q{i}", "question": f"question {i}?", "answers": [{"text": t, "answer_start": s} for t, s in answers]}
        for i, answers in enumerate(answers_per_question)]}


def test_clean_answers_keeps_good_offsets_moves_wrong_ones_and_drops_missing_text():
    context = "the cat sat on the mat near the cat door"
    cleaned, moved, dropped = bigbench_data.clean_answers(paragraph(
        context, [("cat", 4)], [("cat", 30)], [("dog", 0)], [("the mat", 15), ("mat", 0)]))
    questions = {qa["id"]: qa["answers"] for qa in cleaned["qas"]}
    assert questions["q0"] == [{"text": "cat", "answer_start": 4}]
    assert questions["q1"] == [{"text": "cat", "answer_start": 32}]  # the occurrence nearest to 30
    assert "q2" not in questions  # its only answer is not in the context
    assert questions["q3"] == [{"text": "the mat", "answer_start": 15}, {"text": "mat", "answer_start": 19}]
    assert (moved, dropped) == (2, 1)
    for answers in questions.values():
        for answer in answers:
            assert context[answer["answer_start"]:answer["answer_start"] + len(answer["text"])] == answer["text"]


@pytest.fixture
def squad_file(tmp_path):
    def answered(context, *texts):
        return paragraph(context, *[[(text, context.index(text)) for text in texts]] * 3)

    articles = [{"title": f"article {a}", "paragraphs": [answered(f"context {a}.{p} holds word{a}{p} here",
                                                                  f"word{a}{p}", "here") for p in range(4)]}
                for a in range(5)]
    path = tmp_path / "set.json"
    path.write_text(json.dumps({"version": "1.1", "data": articles}), encoding="utf-8")
    return path


def test_sample_paragraphs_draws_whole_paragraphs_seeded_and_in_file_order(squad_file):
    squad, stats = bigbench_data.sample_paragraphs(squad_file, 10, seed=3)
    assert stats == {"questions": 12, "paragraphs": 4, "articles": len(squad["data"]), "moved_offsets": 0,
                     "dropped_answers": 0}  # 3 questions each: whole paragraphs until >= 10
    titles = [article["title"] for article in squad["data"]]
    assert titles == sorted(titles)
    assert bigbench_data.sample_paragraphs(squad_file, 10, seed=3) == (squad, stats)
    assert bigbench_data.sample_paragraphs(squad_file, 10, seed=4)[0] != squad
    assert all(len(qa["answers"]) == 2 for article in squad["data"] for p in article["paragraphs"] for qa in p["qas"])
    first_only, _ = bigbench_data.sample_paragraphs(squad_file, 10, seed=3, first_answer_only=True)
    assert all(len(qa["answers"]) == 1 and qa["answers"][0]["text"].startswith("word")
               for article in first_only["data"] for p in article["paragraphs"] for qa in p["qas"])
    with pytest.raises(ValueError, match="60 questions in all, fewer than the 61 asked for"):
        bigbench_data.sample_paragraphs(squad_file, 61, seed=3)


def test_build_squad_split_rejects_the_same_set_twice_and_unknown_sets(tmp_path):
    with pytest.raises(ValueError, match="both from 'squaddev'"):
        bigbench_data.build_squad_split(tmp_path, "squaddev", 10, "squaddev", 10, seed=1, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown SQuAD set 'squad2'"):
        bigbench_data.build_squad_split(tmp_path, "squad2", 10, "squaddev", 10, seed=1, cache_dir=tmp_path)


def test_pretraining_text_keeps_english_articles_one_sentence_per_line(tmp_path):
    english = ["The cat is in the garden and the dog is in the house.", "It was a day of rain."]
    german = ["Die Katze ist im Garten und der Hund ist im Haus.", "Es war ein Regentag."]
    task = tmp_path / "task.json"
    task.write_text(json.dumps({"examples": [{"input": "\n".join(english), "target": "0 1"},
                                             {"input": "\n".join(german), "target": "0 1"},
                                             {"input": "\n".join(english[::-1]) + "\n", "target": "0 1"}]}),
                    encoding="utf-8")
    assert bigbench_data.english_articles(task) == [english, english[::-1]]
    output = tmp_path / "pretraining.txt"
    counts = bigbench_data.write_pretraining_text(task, output, max_words=5)  # stops after the article passing 5
    assert output.read_text(encoding="utf-8") == "\n".join(english) + "\n\n"
    assert counts == {"articles": 1, "sentences": 2, "words": 19}


def test_a_failed_download_is_one_error_naming_the_package_and_pips_reason(tmp_path, monkeypatch):
    failed = subprocess.CompletedProcess([], 1, "", "WARNING: noise\nERROR: No matching distribution found for bigbench")
    monkeypatch.setattr(bigbench_data.subprocess, "run", lambda *args, **kwargs: failed)
    with pytest.raises(ValueError, match=r"bigbench==1\.0\.0 .*No matching distribution found"):
        bigbench_data.fetch(str(tmp_path / "cache"))
    assert not list((tmp_path / "cache").glob("*.json"))
