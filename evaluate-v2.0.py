"""Official SQuAD v2.0 evaluation: exact match and F1 with unanswerable questions, in percent.

Usage:
    python evaluate-v2.0.py dev-v2.0.json predictions.json [-n na_prob.json] [-t 1.0]
        [-o eval.json] [-p image_dir]

Prints the official script's JSON (exact, f1, total, HasAns_*, NoAns_*, and best_* with
a no-answer-probability file). `--out-image-dir` plots precision-recall curves and needs
matplotlib. Bad input is one `error:` line on stderr and exit status 2 (see squad_metrics).
"""

import argparse
import json

from bert.squad import metrics as squad_metrics
from bert.errors import InputError, run_main


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Official evaluation script for SQuAD version 2.0.")
    parser.add_argument("data_file", metavar="data.json", help="Input data JSON file.")
    parser.add_argument("pred_file", metavar="pred.json", help="Model predictions.")
    parser.add_argument("--out-file", "-o", metavar="eval.json",
                        help="Write accuracy metrics to file (default is stdout).")
    parser.add_argument("--na-prob-file", "-n", metavar="na_prob.json",
                        help="Model estimates of probability of no answer.")
    parser.add_argument("--na-prob-thresh", "-t", type=float, default=1.0,
                        help='Predict "" if no-answer probability exceeds this (default = 1.0).')
    parser.add_argument("--out-image-dir", "-p", metavar="out_images", default=None,
                        help="Save precision-recall curves to directory (needs matplotlib).")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="Accepted for compatibility with the official script; no effect.")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    pyplot = squad_metrics.import_pyplot() if args.out_image_dir else None
    dataset = squad_metrics.read_dataset(args.data_file)
    predictions = squad_metrics.read_predictions(args.pred_file, dataset, require_all=True)
    na_probs = None
    if args.na_prob_file:
        na_probs = squad_metrics.read_na_probs(args.na_prob_file, dataset)
    out_eval = squad_metrics.evaluate_v2(dataset, predictions, na_probs, args.na_prob_thresh,
                                         pyplot, args.out_image_dir)
    if not args.out_file:
        print(json.dumps(out_eval, indent=2))
        return
    try:
        with open(args.out_file, "w", encoding="utf-8") as f:
            json.dump(out_eval, f)
    except OSError as error:
        raise InputError(f"{args.out_file}: cannot write ({error})") from None


if __name__ == "__main__":
    run_main(main)
