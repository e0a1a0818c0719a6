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
parse_options --bert_config_file=config_override --steps=steps --warmup_steps=warmup_steps \
  --num_accumulation_steps=accumulation --results_dir=results_dir --dry_run=dry_run:1 -- "$@"
at_most 6 none
bert_model="${arguments[0]:-base}"
use_xla="${arguments[1]:-true}"
num_gpu="${arguments[2]:-1}"
batch_sizes="${arguments[3]:-2,4}"
precisions="${arguments[4]:-fp32,bf16}"
seq_length="${arguments[5]:-384}"

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

print_or_run "$dry_run" "$results_dir" "${cmd[@]}"
