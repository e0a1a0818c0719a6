"""The JSON-lines run log (`--dllog_path`): one JSON object per line, appended as events happen.

Training writes one record per logged interval (`bert/train/training.py`) and SQuAD
prediction one per run (`run_squad.py`), to the same file.

Example:
    >>> JsonLinesLog("results/squad/squad_log.jsonl").append({"event": "predict", "f1": 88.4})
"""

import json
import os


class JsonLinesLog:
    """Appends records to the file at `path`, creating its folder first."""

    def __init__(self, path):
        self.path = path
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def append(self, record):
        """Writes `record` (a dict of JSON values) as one line at the end of the file."""
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
