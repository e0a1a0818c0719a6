"""bert/files.py: atomic writes, input patterns and output folders."""

import os
import pathlib

import pytest

from bert import files
from bert.errors import InputError


def test_atomic_output_replaces_only_on_success(tmp_path):
    target = tmp_path / "out.txt"
    files.write_text_atomically(target, "first\n")
    with pytest.raises(RuntimeError):
        with files.atomic_output(target) as output:
            output.write("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "first\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]  # no temporary file left


def test_patterns_expand_in_order_and_a_pattern_matching_nothing_is_named(tmp_path):
    for name in ("b.txt", "a.txt", "c.log"):
        (tmp_path / name).write_text("x")
    assert files.expand_patterns(f"{tmp_path}/*.txt, {tmp_path}/c.log", "input_file") == [
        str(tmp_path / "a.txt"), str(tmp_path / "b.txt"), str(tmp_path / "c.log")]
    with pytest.raises(InputError, match=r"--input_file: pattern '.*\*\.md' matches no file"):
        files.expand_patterns(f"{tmp_path}/*.txt,{tmp_path}/*.md", "input_file")


def test_files_in_a_folder_skip_hidden_ones(tmp_path):
    (tmp_path / "shard-1").write_text("x")
    (tmp_path / ".shard-2.tmp").write_text("x")
    assert files.files_in(str(tmp_path), "input_files_dir") == [str(tmp_path / "shard-1")]
    with pytest.raises(InputError, match="--eval_files_dir: no files match"):
        files.files_in(str(tmp_path / "none-*"), "eval_files_dir")


def test_unwritable_output_folder_is_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match=r"--output_dir: .*file/out is not writable"):
        files.make_writable_dir(str(blocker / "out"))


def test_staged_folder_replaces_the_folder_only_when_the_block_succeeds(tmp_path):
    target = tmp_path / "export"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with files.staged_folder(target) as staging:
            (pathlib.Path(staging) / "new.txt").write_text("half")
            raise RuntimeError("interrupted")
    assert [path.name for path in target.iterdir()] == ["old.txt"]
    with files.staged_folder(target) as staging:
        (pathlib.Path(staging) / "new.txt").write_text("done")
    assert [path.name for path in target.iterdir()] == ["new.txt"]
    assert [path.name for path in tmp_path.iterdir()] == ["export"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o777 & ~umask
