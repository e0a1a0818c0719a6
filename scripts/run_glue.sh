#!/usr/bin/env bash
# Fine-tunes BERT on a GLUE task (or your own CSV/TSV/JSON-lines task), then evaluates the dev
# set (Google's run_classifier.py recipe). Run with --help for the arguments and options.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/squad_common.sh"

usage() {
  cat <<EOF
Usage: scripts/run_glue.sh [options] task_name [batch_size [learning_rate [precision [use_xla [num_gpu
           [seq_length [bert_model [init_checkpoint [epochs]]]]]]]]] [-- run_classifier.py flags]

Fine-tunes on the task's training file in data/download/glue/<task_name>/ (GLUE's released
layout: train.tsv, dev.tsv, ...), then evaluates the dev file and prints its metrics.
Everything goes to results/glue_<task>_<timestamp>/ (checkpoints, model.ckpt,
eval_results.txt, logfile.txt); rerunning with --results_dir of an unfinished run resumes it.

Arguments (task_name required, the others optional, in this order; defaults in brackets):
  task_name        cola | sst-2 | mrpc | sts-b | qqp | mnli | mnli-mm | qnli | rte | wnli | xnli
                   | csv | tsv | jsonl (then pass the columns after --, e.g.
                   -- --text_a_column=review --label_column=stars)
  batch_size       examples per GPU per step [32]
  learning_rate    peak learning rate, used as given, never scaled by num_gpu [2e-5]
  precision        fp32 | fp16 | bf16 (fp16/bf16: --amp --amp_dtype=float16/bfloat16) [fp16]
  use_xla          true | false [true]
  num_gpu          GPUs to use, 0 = CPU only; more than 1 runs MirroredStrategy over them [1]
  seq_length       tokens per example [128]
  bert_model       base | large: the config next to the checkpoint when there is one,
                   else configs/bert_config_<model>.json [base]
  init_checkpoint  pretrained weights: TF checkpoint prefix, folder or .safetensors
                   [data/download/google_pretrained_weights/uncased_L-12_H-768_A-12/bert_model.ckpt,
                    or uncased_L-24_H-1024_A-16 for large]
  epochs           training epochs [3.0]

Options (before the arguments):
  --data_dir DIR           the task's folder instead of data/download/glue/<task_name>
  --bert_config_file FILE  BERT config instead of the one bert_model selects
  --vocab_file FILE        vocab instead of vocab.txt next to the checkpoint
  --cased                  keep case (cased models); lower-cased by default
  --predict                also predict the test file (test_results.tsv)
  --results_dir DIR        output folder instead of results/glue_<task>_<timestamp>
  --dry_run                check the arguments and print the command; run nothing
  -h, --help               show this help
  Flags after -- go to run_classifier.py unchanged (e.g. -- --export_dir=DIR).

Environment:
  PYTHON                the Python interpreter to run (default: python3)
  CUDA_VISIBLE_DEVICES  when set, kept as is; otherwise set to the first num_gpu GPUs
EOF
}

data_dir="" config_override="" vocab_override="" lower_case="--do_lower_case" predict="--nodo_predict"
results_dir="" dry_run=0
parse_options --data_dir=data_dir --bert_config_file=config_override --vocab_file=vocab_override \
  --cased=lower_case:--nodo_lower_case --predict=predict:--do_predict --results_dir=results_dir \
  --dry_run=dry_run:1 -- "$@"
at_most 10 passes
(( ${#arguments[@]} >= 1 )) || die "task_name is required (see --help)"

task_name="${arguments[0]}"
batch_size="${arguments[1]:-32}"
learning_rate="${arguments[2]:-2e-5}"
precision="${arguments[3]:-fp16}"
use_xla="${arguments[4]:-true}"
num_gpu="${arguments[5]:-1}"
seq_length="${arguments[6]:-128}"
bert_model="${arguments[7]:-base}"
init_checkpoint="${arguments[8]:-$(google_model_dir "$bert_model")/bert_model.ckpt}"
epochs="${arguments[9]:-3.0}"

task_lower="$(tr '[:upper:]' '[:lower:]' <<< "$task_name")"
check_choice task_name "$task_lower" cola sst-2 sst2 mrpc sts-b stsb qqp mnli mnli-mm qnli rte wnli xnli csv tsv jsonl
check_int batch_size "$batch_size" 1
check_positive_number learning_rate "$learning_rate"
check_choice precision "$precision" fp32 fp16 bf16
check_choice use_xla "$use_xla" true false
check_int num_gpu "$num_gpu" 0
check_int seq_length "$seq_length" 1
check_choice bert_model "$bert_model" base large
check_checkpoint "$init_checkpoint"
check_positive_number epochs "$epochs"

data_dir="${data_dir:-$REPO_ROOT/data/download/glue/$task_name}"
[[ -d "$data_dir" ]] || die "$data_dir not found (put the task's files there, or pass --data_dir)"
bert_config="$(bert_config_for "$bert_model" "$init_checkpoint" "$config_override")"
vocab="$(vocab_for "$init_checkpoint" "$vocab_override")"
use_gpus "$num_gpu"
results_dir="${results_dir:-$REPO_ROOT/results/glue_${task_lower}_$(date +%Y%m%d_%H%M%S)}"

cmd=("$PYTHON" "$REPO_ROOT/run_classifier.py"
  --task_name="$task_name" --data_dir="$data_dir"
  --vocab_file="$vocab" --bert_config_file="$bert_config" --init_checkpoint="$init_checkpoint"
  "$lower_case" --do_train --do_eval "$predict" --train_batch_size="$batch_size" --learning_rate="$learning_rate"
  --num_train_epochs="$epochs" --max_seq_length="$seq_length"
  $(precision_flags "$precision") "$(xla_flag "$use_xla")"
  --output_dir="$results_dir" --dllog_path="$results_dir/classifier_log.jsonl" ${passed_through[@]+"${passed_through[@]}"})

print_or_run "$dry_run" "$results_dir" "${cmd[@]}"
