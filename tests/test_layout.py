"""The repository layout: entry points and Google-style shims at the root, the library in bert/."""

import re
import subprocess
import sys

from conftest import REPO_ROOT

ENTRY_POINTS = {"build_vocab.py", "create_pretraining_data.py", "run_pretraining.py", "run_squad.py",
                "extract_features.py", "evaluate-v1.1.py", "evaluate-v2.0.py", "export_model.py",
                "run_classifier.py", "run_ner.py"}
SYS_PATH_EDIT = re.compile(r"^\s*sys\.path\.(insert|append)\(", re.M)
SHIMS = {"modeling.py": "bert.modeling", "tokenization.py": "bert.text.tokenization",
         "optimization.py": "bert.train.optimization"}


def test_root_holds_only_entry_points_and_shims():
    assert {path.name for path in REPO_ROOT.glob("*.py")} == ENTRY_POINTS | set(SHIMS)


def test_google_style_imports_reach_the_package():
    """`import modeling` from the root, as Google's scripts do, gives the package's objects."""
    checks = "; ".join(f"import {shim[:-3]}, {module}; assert {shim[:-3]}.{name} is {module}.{name}"
                       for (shim, module), name in zip(SHIMS.items(),
                                                       ["BertConfig", "FullTokenizer", "create_optimizer"]))
    result = subprocess.run([sys.executable, "-c", checks], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_only_the_test_conftest_edits_the_import_path():
    sources = [path for path in REPO_ROOT.rglob("*.py")
               if not any(part.startswith(".venv") for part in path.relative_to(REPO_ROOT).parts)]
    editing = [str(path.relative_to(REPO_ROOT)) for path in sources
               if SYS_PATH_EDIT.search(path.read_text(encoding="utf-8"))]
    assert editing == ["tests/conftest.py"]
