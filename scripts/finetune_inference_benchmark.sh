#!/usr/bin/env bash
# SQuAD inference benchmark: latency (average, p50, p90, p95, p99) and sentences/s over
# batch sizes x sequence lengths x precisions. Run with --help for the arguments.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/squad_common.sh"

usage() {
  cat <<EOF2
Usage: scripts/finetune_inference_benchmark.sh [options] [bert_model [use_xla [batch_sizes
           [seq_lengths [precisions]]]]]

Times the compiled BertForQuestionAnswering forward pass that run_squad.py predicts with,
on random inputs and random weights (python -m benchmarks.squad_inference_benchmark). Prints a
table; the results also go to results/squad_inference_benchmark_<timestamp>/results.jsonl.

Arguments (all optional, in this order; defaults in brackets):
  bert_model   base | large: configs/bert_config_<model>.json, or Google's shape if absent [base]
  use_xla      true | false [true] (a forward on a CPU runs without XLA, see bert/train/precision.py)
  batch_sizes  comma-separated [1,8]
  seq_lengths  comma-separated [128,384]
  precisions   comma-separated fp32, fp16, bf16 [fp32,bf16]

Options (before the arguments):
  --bert_config_file FILE  BERT config instead of the one bert_model selects
  --iterations N           timed calls per point [20]
  --warmup N               untimed calls first [3]
  --rounds N               interleave the timed calls of all points in N rounds, so that a
                           machine shared with other jobs slows them alike [1]
  --pytorch                also time transformers' PyTorch BertForQuestionAnswering, in fp32
                           and, when bf16 is asked for, in bf16 autocast (python from
                           BERT_REFERENCE_PYTHON, else .venv-reference/bin/python)
  --results_dir DIR        output folder instead of results/squad_inference_benchmark_<timestamp>
  --dry_run                check the arguments and print the command; run nothing
  -h, --help               show this help

Environment:
  PYTHON                the Python interpreter to run (default: python3)
  CUDA_VISIBLE_DEVICES  when set, kept as is; otherwise set to GPU 0
EOF2
}

config_override="" iterations=20 warmup=3 rounds=1 pytorch="" results_dir="" dry_run=0
parse_options --bert_config_file=config_override --iterations=iterations --warmup=warmup \
  --rounds=rounds --pytorch=pytorch:--pytorch --results_dir=results_dir --dry_run=dry_run:1 -- "$@"
at_most 5 none
bert_model="${arguments[0]:-base}"
use_xla="${arguments[1]:-true}"
batch_sizes="${arguments[2]:-1,8}"
seq_lengths="${arguments[3]:-128,384}"
precisions="${arguments[4]:-fp32,bf16}"

check_choice bert_model "$bert_model" base large
check_choice use_xla "$use_xla" true false
check_list batch_sizes "$batch_sizes" check_int 1
check_list seq_lengths "$seq_lengths" check_int 1
check_list precisions "$precisions" check_choice fp32 fp16 bf16
check_int --iterations "$iterations" 1
check_int --warmup "$warmup" 0
check_int --rounds "$rounds" 1
(( 10#$rounds <= 10#$iterations )) || die "--rounds ($rounds) must not exceed --iterations ($iterations)"
[[ -z "$config_override" || -f "$config_override" ]] || die "--bert_config_file $config_override not found"
use_gpus 1
results_dir="${results_dir:-$REPO_ROOT/results/squad_inference_benchmark_$(date +%Y%m%d_%H%M%S)}"

xla="--use_xla"
[[ "$use_xla" == "true" ]] || xla="--no-use_xla"
cmd=(env "PYTHONPATH=$REPO_ROOT${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -m benchmarks.squad_inference_benchmark --bert_model="$bert_model"
  --batch_sizes="$batch_sizes" --seq_lengths="$seq_lengths" --precisions="$precisions" "$xla"
  --iterations="$iterations" --warmup="$warmup" --rounds="$rounds" --output="$results_dir/results.jsonl")
[[ -n "$config_override" ]] && cmd+=(--bert_config_file="$config_override")
[[ -n "$pytorch" ]] && cmd+=("$pytorch")

print_or_run "$dry_run" "$results_dir" "${cmd[@]}"
