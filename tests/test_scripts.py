"""Every script in scripts/ answers --help and rejects a bad argument with one line, before any work."""

import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
SCRIPTS = sorted(str(path.relative_to(REPO)) for path in (REPO / "scripts").rglob("*.sh")
                 if path.parent.name != "lib")  # scripts/lib/ holds what the scripts source, not run


def run(*command):
    return subprocess.run(["bash", *command], cwd=REPO, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_and_unknown_option(script):
    help_result = run(script, "--help")
    assert help_result.returncode == 0 and help_result.stdout.strip(), help_result.stderr
    bad = run(script, "--no_such_option")
    assert bad.returncode == 2, (bad.stdout, bad.stderr)
    assert bad.stderr.startswith("error: ") and bad.stderr.count("\n") == 1, bad.stderr


@pytest.mark.parametrize("arguments, message", [
    (["tests/no_such_file.py"], "no such test file: tests/no_such_file.py"),
    (["-m"], "-m needs an expression"),
    (["slow"], "unknown argument 'slow'"),
])
def test_test_script_rejects_bad_arguments(arguments, message):
    result = run("scripts/test.sh", *arguments)
    assert result.returncode == 2 and result.stderr == f"error: {message} (see --help)\n"
