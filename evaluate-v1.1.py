"""Official SQuAD v1.1 evaluation: exact match and F1 of predictions, in percent.

Usage:
    python evaluate-v1.1.py dev-v1.1.json predictions.json

Prints {"exact_match": ..., "f1": ...} exactly as the official script does. Questions
without a prediction score 0 (reported on stderr); bad input is one `error:` line on
stderr and exit status 2 (see squad_metrics).
"""

import argparse
import json
import sys

from bert.squad import metrics as squad_metrics
from bert.errors import run_main

EXPECTED_VERSION = "1.1"


def main(argv=None):
    parser = argparse.ArgumentParser(description=f"Evaluation for SQuAD {EXPECTED_VERSION}")
    parser.add_argument("dataset_file", help="SQuAD v1.1 dataset JSON file")
    parser.add_argument("prediction_file", help="JSON object mapping question id to answer text")
    args = parser.parse_args(argv)
    dataset = squad_metrics.read_dataset(args.dataset_file, require_answers=True)
    if dataset.version != EXPECTED_VERSION:
        print(f"Evaluation expects v-{EXPECTED_VERSION}, but got dataset with v-{dataset.version}",
              file=sys.stderr)
    predictions = squad_metrics.read_predictions(args.prediction_file, dataset)
    print(json.dumps(squad_metrics.evaluate_v1(dataset, predictions)))


if __name__ == "__main__":
    run_main(main)
