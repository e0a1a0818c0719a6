"""The reference tier: PyTorch and transformers, run live, still give the golden files of tests/golden/.

The default tier compares this toolkit with those files. Here tests/reference/make_golden.py
runs again in the reference virtualenv (a child process without TensorFlow) and each file it
writes must match the committed one. `scripts/test.sh -m reference` sets up that virtualenv
and names its Python in BERT_REFERENCE_PYTHON.
"""

import os
import subprocess

import numpy as np
import pytest

from conftest import GOLDEN_DIR, REPO_ROOT, golden, minilm_dir
from tests.reference.make_golden import CASES

pytestmark = pytest.mark.reference


@pytest.fixture(scope="module")
def live_golden_dir(tmp_path_factory):
    python = os.environ.get("BERT_REFERENCE_PYTHON")
    if not python:
        pytest.fail("BERT_REFERENCE_PYTHON is not set: run the reference tier with `scripts/test.sh -m reference`")
    folder = tmp_path_factory.mktemp("live_golden")
    command = [python, "-m", "tests.reference.make_golden", f"--output_dir={folder}"]
    if minilm_dir() is not None:
        command.append(f"--minilm_dir={minilm_dir()}")
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-4000:]
    return folder


@pytest.mark.parametrize("name", sorted(CASES))
def test_live_reference_matches_the_golden_file(live_golden_dir, name):
    committed, live = golden(name), golden(name, folder=live_golden_dir)
    if name.endswith(".json.gz"):
        assert live == committed
        return
    assert sorted(live) == sorted(committed)
    for key, expected in committed.items():
        if expected.dtype.kind in "fc":
            np.testing.assert_allclose(live[key], expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max(), err_msg=key)
        else:
            np.testing.assert_array_equal(live[key], expected, err_msg=key)


def test_every_golden_file_has_a_case():
    assert sorted(path.name for path in GOLDEN_DIR.iterdir()) == sorted(CASES)
