"""benchmarks/side_by_side.py: the seed loop, the guard against resuming earlier runs, and results.json; and
the flags of benchmarks/pretraining_payoff.py that choose the twins and their learning rates."""

import json

import pytest

from benchmarks import pretraining_payoff, side_by_side


def test_run_seeds_interleaves_the_sides_and_saves_after_each_run():
    calls, saved = [], []
    results = {"runs": {"ours": {}, "pytorch": {}}, "versions": {}}

    def runner(side):
        def run(seed):
            calls.append((side, seed))
            record = {"f1": 10.0 * seed + (side == "pytorch")}
            if side == "pytorch":
                record["torch"] = "2.x"
            return record
        return run

    side_by_side.run_seeds([1, 2], {"ours": runner("ours"), "pytorch": runner("pytorch")}, results,
                           lambda: saved.append(json.dumps(results["runs"], sort_keys=True)),
                           lambda record: f"F1 {record['f1']}")
    assert calls == [("ours", 1), ("pytorch", 1), ("ours", 2), ("pytorch", 2)]
    assert results["runs"] == {"ours": {"1": {"f1": 10.0}, "2": {"f1": 20.0}},
                               "pytorch": {"1": {"f1": 11.0}, "2": {"f1": 21.0}}}
    assert results["versions"] == {"torch": "2.x"}
    assert len(saved) == 4 and '"2"' not in saved[1] and '"2"' in saved[2]


def test_save_merged_keeps_the_seeds_another_process_saved_and_ours_win(tmp_path):
    path = str(tmp_path / "results.json")

    def summarize(runs):
        return {side: sorted(seeds) for side, seeds in runs.items()}

    first = {"settings": {"lr": 1}, "runs": {"random": {"1": {"f1": 8.0}}}}
    second = {"settings": {"lr": 1}, "runs": {"random": {"2": {"f1": 9.0}}, "pretrained": {"2": {"f1": 12.0}}}}
    side_by_side.save_merged(path, first, summarize)
    side_by_side.save_merged(path, second, summarize)
    with open(path, encoding="utf-8") as f:
        saved = json.load(f)
    assert saved["runs"] == {"random": {"1": {"f1": 8.0}, "2": {"f1": 9.0}}, "pretrained": {"2": {"f1": 12.0}}}
    assert saved["summary"] == {"random": ["1", "2"], "pretrained": ["2"]}
    first["runs"]["random"]["1"] = {"f1": 8.5}  # a rerun of seed 1 replaces the file's record
    side_by_side.save_merged(path, first, summarize)
    with open(path, encoding="utf-8") as f:
        assert json.load(f)["runs"]["random"] == {"1": {"f1": 8.5}, "2": {"f1": 9.0}}
    other = {"settings": {"lr": 2}, "runs": {"random": {"3": {"f1": 1.0}}}}  # other settings: nothing merged
    side_by_side.save_merged(path, other, summarize)
    with open(path, encoding="utf-8") as f:
        assert json.load(f)["runs"] == {"random": {"3": {"f1": 1.0}}}


def test_refuse_earlier_runs_stops_before_a_resume_unless_overwriting(tmp_path):
    side_by_side.refuse_earlier_runs(str(tmp_path), [1, 2], ["ours", "pytorch"], overwrite=False)
    (tmp_path / "pytorch_seed2").mkdir()
    with pytest.raises(SystemExit, match="pytorch_seed2 exists"):
        side_by_side.refuse_earlier_runs(str(tmp_path), [1, 2], ["ours", "pytorch"], overwrite=False)
    side_by_side.refuse_earlier_runs(str(tmp_path), [1, 2], ["ours", "pytorch"], overwrite=True)
    side_by_side.refuse_earlier_runs(str(tmp_path), [1, 2], ["ours"], overwrite=False)


def test_load_results_keeps_runs_of_the_same_settings_only(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"settings": {"lr": 1}, "runs": {"ours": {"1": {"f1": 5.0}}, "pytorch": {}},
                                "data": {"train": 3}}))
    kept = side_by_side.load_results(str(path), {"lr": 1})
    assert kept["runs"]["ours"] == {"1": {"f1": 5.0}} and kept["cpu"]
    dropped = side_by_side.load_results(str(path), {"lr": 2})
    assert dropped["runs"] == {"ours": {}, "pytorch": {}} and dropped["data"] == {"train": 3}


def test_mean_std_is_the_sample_spread():
    assert side_by_side.mean_std([2.0]) == (2.0, 0.0)
    mean, std = side_by_side.mean_std([1.0, 2.0, 3.0])
    assert mean == 2.0 and std == pytest.approx(1.0)


@pytest.fixture
def pretrained_dir(tmp_path):
    for seed in (1, 2):
        folder = tmp_path / f"ours_lamb_seed{seed}"
        folder.mkdir()
        for name in ("model.ckpt.index", "bert_config.json", "vocab.txt"):
            (folder / name).write_text("x")
    return str(tmp_path / "ours_lamb_seed{seed}")


def test_payoff_learning_rates_default_to_one_for_both_twins(pretrained_dir):
    args = pretraining_payoff.parse_args([f"--pretrained_dir={pretrained_dir}", "--seeds=1,2",
                                          "--learning_rate=3e-4"])
    assert args.learning_rates == {"pretrained": 3e-4, "random": 3e-4}
    assert args.inits == ["pretrained", "random"]
    args = pretraining_payoff.parse_args([f"--pretrained_dir={pretrained_dir}", "--seeds=1",
                                          "--learning_rate=3e-4", "--random_learning_rate=1e-3", "--inits=random"])
    assert args.learning_rates == {"pretrained": 3e-4, "random": 1e-3} and args.inits == ["random"]


def test_payoff_refuses_a_missing_model_and_unknown_twins(pretrained_dir, capsys):
    with pytest.raises(SystemExit):
        pretraining_payoff.parse_args([f"--pretrained_dir={pretrained_dir}", "--seeds=1,3"])
    assert "ours_lamb_seed3/model.ckpt.index missing" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        pretraining_payoff.parse_args([f"--pretrained_dir={pretrained_dir}", "--seeds=1", "--inits=warm"])
    assert "--inits: unknown ['warm']" in capsys.readouterr().err
