#!/usr/bin/env bash
# Fine-tunes BERT on SQuAD, then predicts and scores the dev set (NVIDIA's positional
# arguments). Run with --help for the arguments and options.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/squad_common.sh"

usage() {
  cat <<EOF
Usage: scripts/run_squad.sh [options] [batch_size [learning_rate [precision [use_xla [num_gpu
           [seq_length [doc_stride [bert_model [squad_version [init_checkpoint [epochs]]]]]]]]]]] [-- run_squad.py flags]

Fine-tunes on data/download/squad/v<ver>/train-v<ver>.json, then predicts
dev-v<ver>.json and prints its EM and F1. Paths in this help are relative to the
repository; your own paths to the current folder. Everything goes to results/squad_<timestamp>/
(checkpoints, model.ckpt, predictions.json, eval_results.json, logfile.txt); rerunning
with --results_dir of an unfinished run resumes it.

Arguments (all optional, in this order; defaults in brackets):
  batch_size       windows per GPU per step [8]
  learning_rate    peak learning rate, used as given, never scaled by num_gpu [3e-5]
  precision        fp32 | fp16 | bf16 (fp16/bf16: --amp --amp_dtype=float16/bfloat16) [fp16]
  use_xla          true | false [true] (bf16 on a CPU runs without XLA, see bert/train/precision.py)
  num_gpu          GPUs to use, 0 = CPU only; more than 1 runs MirroredStrategy over them [1]
  seq_length       tokens per window [384]
  doc_stride       tokens between window starts [128]
  bert_model       base | large: the config next to the checkpoint when there is one,
                   else configs/bert_config_<model>.json [large]
  squad_version    1.1 | 2.0 [1.1]
  init_checkpoint  pretrained weights: TF checkpoint prefix, folder or .safetensors
                   [data/download/google_pretrained_weights/uncased_L-24_H-1024_A-16/bert_model.ckpt,
                    or uncased_L-12_H-768_A-12 for base]
  epochs           training epochs [2.0]

Options (before the arguments):
  --train_file FILE        training JSON instead of data/download/squad/v<ver>/train-v<ver>.json
  --predict_file FILE      prediction JSON instead of data/download/squad/v<ver>/dev-v<ver>.json
  --bert_config_file FILE  BERT config instead of the one bert_model selects
  --vocab_file FILE        vocab instead of vocab.txt next to the checkpoint
  --cased                  keep case (cased models); lower-cased by default
  --results_dir DIR        output folder instead of results/squad_<timestamp>
  --dry_run                check the arguments and print the command; run nothing
  -h, --help               show this help
  Flags after -- go to run_squad.py unchanged (e.g. -- --optimizer_type=lamb --export_dir=DIR).

Environment:
  PYTHON                the Python interpreter to run (default: python3)
  CUDA_VISIBLE_DEVICES  when set, kept as is; otherwise set to the first num_gpu GPUs
EOF
}

train_file="" predict_file="" config_override="" vocab_override="" lower_case="--do_lower_case"
results_dir="" dry_run=0
parse_options --train_file=train_file --predict_file=predict_file --bert_config_file=config_override \
  --vocab_file=vocab_override --cased=lower_case:--nodo_lower_case --results_dir=results_dir --dry_run=dry_run:1 -- "$@"
at_most 11 passes

batch_size="${arguments[0]:-8}"
learning_rate="${arguments[1]:-3e-5}"
precision="${arguments[2]:-fp16}"
use_xla="${arguments[3]:-true}"
num_gpu="${arguments[4]:-1}"
seq_length="${arguments[5]:-384}"
doc_stride="${arguments[6]:-128}"
bert_model="${arguments[7]:-large}"
squad_version="${arguments[8]:-1.1}"
init_checkpoint="${arguments[9]:-$(google_model_dir "$bert_model")/bert_model.ckpt}"
epochs="${arguments[10]:-2.0}"

check_int batch_size "$batch_size" 1
check_positive_number learning_rate "$learning_rate"
check_choice precision "$precision" fp32 fp16 bf16
check_choice use_xla "$use_xla" true false
check_int num_gpu "$num_gpu" 0
check_int seq_length "$seq_length" 1
check_int doc_stride "$doc_stride" 1
check_choice bert_model "$bert_model" base large
check_choice squad_version "$squad_version" 1.1 2.0
check_checkpoint "$init_checkpoint"
check_positive_number epochs "$epochs"

squad_dir="$REPO_ROOT/data/download/squad/v$squad_version"
train_file="${train_file:-$squad_dir/train-v$squad_version.json}"
predict_file="${predict_file:-$squad_dir/dev-v$squad_version.json}"
[[ -f "$train_file" ]] || die "$train_file not found (scripts/data_download.sh squad fetches it, or pass --train_file)"
[[ -f "$predict_file" ]] || die "$predict_file not found (scripts/data_download.sh squad fetches it, or pass --predict_file)"
bert_config="$(bert_config_for "$bert_model" "$init_checkpoint" "$config_override")"
vocab="$(vocab_for "$init_checkpoint" "$vocab_override")"
use_gpus "$num_gpu"
results_dir="${results_dir:-$REPO_ROOT/results/squad_$(date +%Y%m%d_%H%M%S)}"
version_flag="--noversion_2_with_negative"
[[ "$squad_version" == "2.0" ]] && version_flag="--version_2_with_negative"

cmd=("$PYTHON" "$REPO_ROOT/run_squad.py"
  --vocab_file="$vocab" --bert_config_file="$bert_config" --init_checkpoint="$init_checkpoint"
  "$lower_case" --do_train --train_file="$train_file" --do_predict --predict_file="$predict_file"
  --train_batch_size="$batch_size" --predict_batch_size="$batch_size" --learning_rate="$learning_rate"
  --num_train_epochs="$epochs" --max_seq_length="$seq_length" --doc_stride="$doc_stride"
  $(precision_flags "$precision") "$(xla_flag "$use_xla")" "$version_flag"
  --output_dir="$results_dir" --dllog_path="$results_dir/squad_log.jsonl" ${passed_through[@]+"${passed_through[@]}"})

print_or_run "$dry_run" "$results_dir" "${cmd[@]}"
