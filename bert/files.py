"""File helpers every stage shares: atomic writes, input patterns and output folders.

Outputs are written to a temporary file beside their target and renamed into place when
complete, so a crash never leaves a half-written file under the final name.
"""

import contextlib
import glob
import os
import shutil
import tempfile

from bert.errors import InputError


def _read_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Temporary files and folders are created private (0600 / 0700); a finished output gets
# the permissions the user's umask gives any new file or folder.
_FILE_MODE = 0o666 & ~_read_umask()
_FOLDER_MODE = 0o777 & ~_read_umask()


def remove_quietly(path):
    """Removes `path` if it exists; never raises."""
    try:
        os.remove(path)
    except OSError:
        pass


@contextlib.contextmanager
def atomic_output(path, mode="w", encoding="utf-8", newline=None):
    """A file object for `path`: a hidden temporary file beside it, fsynced and renamed on success.

    On an exception the temporary file is removed and `path` is left as it was.
    Raises OSError when the folder cannot hold the temporary file.
    """
    directory, name = os.path.split(os.path.abspath(path))
    handle, temp_path = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, mode, encoding=None if "b" in mode else encoding, newline=newline) as output:
            yield output
            output.flush()
            os.fsync(output.fileno())
        os.chmod(temp_path, _FILE_MODE)
        os.replace(temp_path, path)
    finally:
        remove_quietly(temp_path)


@contextlib.contextmanager
def staged_folder(path):
    """A hidden temporary folder beside `path`, moved to `path` when the block succeeds.

    A folder already at `path` is replaced then; on an exception the temporary folder is
    removed and `path` is left as it was. Yields the temporary folder's path.
    """
    path = os.path.abspath(path)
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=parent)
    try:
        yield staging
        os.chmod(staging, _FOLDER_MODE)
        if os.path.isdir(path):
            shutil.rmtree(path)
        os.replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_text_atomically(path, text):
    """Writes `text` (UTF-8) to `path` through `atomic_output`."""
    with atomic_output(path) as output:
        output.write(text)


def expand_patterns(patterns, flag):
    """The sorted files matched by each comma-separated glob of `patterns`, in order.

    Raises:
      InputError: a pattern matches no file (named with its `--flag`).
    """
    files = []
    for pattern in filter(None, (part.strip() for part in patterns.split(","))):
        matched = sorted(glob.glob(pattern))
        if not matched:
            raise InputError(f"--{flag}: pattern {pattern!r} matches no file")
        files.extend(matched)
    return files


def files_in(path, flag):
    """The sorted non-hidden files of folder `path`, or those matching the glob `path`.

    Raises:
      InputError: `path` is empty, or nothing matches (named with its `--flag`).
    """
    if not path:
        raise InputError(f"--{flag}: required")
    pattern = os.path.join(path, "*") if os.path.isdir(path) else path
    files = [f for f in glob.glob(pattern) if not os.path.basename(f).startswith(".")]
    if not files:
        raise InputError(f"--{flag}: no files match {pattern}")
    return sorted(files)


def make_writable_dir(path, flag="output_dir"):
    """Creates folder `path` if needed and checks that files can be created in it.

    Raises:
      InputError: the folder cannot be created or written (named with its `--flag`).
    """
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise InputError(f"--{flag}: {path} is not writable ({error.strerror})") from None
