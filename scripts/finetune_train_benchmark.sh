#!/usr/bin/env bash
# SQuAD fine-tuning benchmark: training throughput (sentences/s) of the real training step
# over batch sizes x precisions. Run with --help for the arguments.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/squad_common.sh"

usage() {
  cat <<EOF2
Usage: scripts/finetune_train_benchmark.sh [options] [bert_model [use_xla [num_gpu
           [batch_sizes [precisions [seq_length]]]]]]

Times training.py's step with the SQuAD loss and AdamW, as run_squad.py trains, on random
inputs and random weights (python -m benchmarks.squad_train_benchmark). Prints a table; the
results also go to results/squad_train_benchmark_<timestamp>/results.jsonl.

Arguments (all optional, in this order; defaults in brackets):
  bert_model   base | large: configs/bert_config_<model>.json, or Google's shape if absent [base]
  use_xla      true | false [true] (bf16 on a CPU runs without XLA, see bert/train/precision.py)
  num_gpu      GPUs to use, 0 = CPU only; more than 1 runs MirroredStrategy over them [1]
  batch_sizes  windows per GPU per micro-batch, comma-separated [2,4]
  precisions   comma-separated fp32, fp16, bf16 [fp32,bf16]
  seq_length   tokens per window [384]

Options (before the arguments):
  --bert_config_file FILE     BERT config instead of the one bert_model selects
  --steps N                   timed updates per point [10]
  --warmup_steps N            untimed updates first [2]
  --num_accumulation_steps N  micro-batches per update [1]
  --results_dir DIR           output folder instead of results/squad_train_benchmark_<timestamp>
  --dry_run                   check the arguments and print the command; run nothing
  -h, --help                  show this help

Environment:
  PYTHON                the Python interpreter to run (default: python3)
  CUDA_VISIBLE_DEVICES  when set, kept as is; otherwise set to the first num_gpu GPUs
EOF2
}

config_override="" steps=10 warmup_steps=2 accumulation=1 results_dir="" dry_run=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --bert_config_file) need_value "$@"; config_override="$2"; shift 2 ;;
    --steps) need_value "$@"; steps="$2"; shift 2 ;;
    --warmup_steps) need_value "$@"; warmup_steps="$2"; shift 2 ;;
    --num_accumulation_steps) need_value "$@"; accumulation="$2"; shift 2 ;;
    --results_dir) need_value "$@"; results_dir="$2"; shift 2 ;;
    --dry_run) dry_run=1; shift ;;
    -?*) die "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
done
(( $# <= 6 )) || die "expected at most 6 arguments, got $# (see --help)"
bert_model="${1:-base}"
use_xla="${2:-true}"
num_gpu="${3:-1}"
batch_sizes="${4:-2,4}"
precisions="${5:-fp32,bf16}"
seq_length="${6:-384}"

check_choice bert_model "$bert_model" base large
check_choice use_xla "$use_xla" true false
check_int num_gpu "$num_gpu" 0
check_list batch_sizes "$batch_sizes" check_int 1
check_list precisions "$precisions" check_choice fp32 fp16 bf16
check_int seq_length "$seq_length" 1
check_int --steps "$steps" 1
check_int --warmup_steps "$warmup_steps" 0
check_int --num_accumulation_steps "$accumulation" 1
[[ -z "$config_override" || -f "$config_override" ]] || die "--bert_config_file $config_override not found"
use_gpus "$num_gpu"
results_dir="${results_dir:-$REPO_ROOT/results/squad_train_benchmark_$(date +%Y%m%d_%H%M%S)}"

xla="--use_xla"
[[ "$use_xla" == "true" ]] || xla="--no-use_xla"
cmd=(env "PYTHONPATH=$REPO_ROOT${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -m benchmarks.squad_train_benchmark --bert_model="$bert_model"
  --batch_sizes="$batch_sizes" --precisions="$precisions" --seq_length="$seq_length" "$xla"
  --steps="$steps" --warmup_steps="$warmup_steps" --num_accumulation_steps="$accumulation"
  --output="$results_dir/results.jsonl")
[[ -n "$config_override" ]] && cmd+=(--bert_config_file="$config_override")

if (( dry_run )); then
  printf '%q ' "${cmd[@]}"
  echo
  exit 0
fi
run_logged "$results_dir/logfile.txt" "${cmd[@]}"
echo "Results in $results_dir"
