#!/usr/bin/env bash
# Predicts and scores the SQuAD dev set with a fine-tuned checkpoint (NVIDIA's positional
# arguments). Run with --help for the arguments and options.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/squad_common.sh"

usage() {
  cat <<EOF
Usage: scripts/run_squad_inference.sh [options] [init_checkpoint [batch_size [precision [use_xla
           [seq_length [doc_stride [bert_model [squad_version]]]]]]]] [-- run_squad.py flags]

Predicts data/download/squad/v<ver>/dev-v<ver>.json with a checkpoint fine-tuned by
run_squad.sh, prints EM, F1 and sentences/s, and writes predictions.json,
nbest_predictions.json, (2.0) null_odds.json and eval_results.json to
results/squad_inference_<timestamp>/. Paths in this help are relative to the repository.

Arguments (all optional, in this order; defaults in brackets):
  init_checkpoint  fine-tuned weights: the results folder of run_squad.sh, its model.ckpt,
                   or any checkpoint with the SQuAD head [results/model.ckpt]
  batch_size       windows per batch [8]
  precision        fp32 | fp16 | bf16 (fp16/bf16: --amp --amp_dtype=float16/bfloat16) [fp16]
  use_xla          true | false [true] (bf16 on a CPU runs without XLA, see bert/train/precision.py)
  seq_length       tokens per window; use the fine-tuning value [384]
  doc_stride       tokens between window starts [128]
  bert_model       base | large: the config next to the checkpoint when there is one,
                   else configs/bert_config_<model>.json [large]
  squad_version    1.1 | 2.0 [1.1]

Options (before the arguments):
  --predict_file FILE      JSON to predict instead of data/download/squad/v<ver>/dev-v<ver>.json
  --bert_config_file FILE  BERT config instead of the one bert_model selects
  --vocab_file FILE        vocab instead of vocab.txt next to the checkpoint
  --cased                  keep case (cased models); lower-cased by default
  --results_dir DIR        output folder instead of results/squad_inference_<timestamp>
  --dry_run                check the arguments and print the command; run nothing
  -h, --help               show this help
  Flags after -- go to run_squad.py unchanged (e.g. -- --null_score_diff_threshold=-1.5).

Environment:
  PYTHON                the Python interpreter to run (default: python3)
  CUDA_VISIBLE_DEVICES  when set, kept as is; otherwise set to GPU 0
EOF
}

predict_file="" config_override="" vocab_override="" lower_case="--do_lower_case" results_dir="" dry_run=0
parse_options --predict_file=predict_file --bert_config_file=config_override --vocab_file=vocab_override \
  --cased=lower_case:--nodo_lower_case --results_dir=results_dir --dry_run=dry_run:1 -- "$@"
at_most 8 passes

init_checkpoint="${arguments[0]:-$REPO_ROOT/results/model.ckpt}"
batch_size="${arguments[1]:-8}"
precision="${arguments[2]:-fp16}"
use_xla="${arguments[3]:-true}"
seq_length="${arguments[4]:-384}"
doc_stride="${arguments[5]:-128}"
bert_model="${arguments[6]:-large}"
squad_version="${arguments[7]:-1.1}"

check_checkpoint "$init_checkpoint"
check_int batch_size "$batch_size" 1
check_choice precision "$precision" fp32 fp16 bf16
check_choice use_xla "$use_xla" true false
check_int seq_length "$seq_length" 1
check_int doc_stride "$doc_stride" 1
check_choice bert_model "$bert_model" base large
check_choice squad_version "$squad_version" 1.1 2.0

predict_file="${predict_file:-$REPO_ROOT/data/download/squad/v$squad_version/dev-v$squad_version.json}"
[[ -f "$predict_file" ]] || die "$predict_file not found (scripts/data_download.sh squad fetches it, or pass --predict_file)"
bert_config="$(bert_config_for "$bert_model" "$init_checkpoint" "$config_override")"
vocab="$(vocab_for "$init_checkpoint" "$vocab_override")"
use_gpus 1
results_dir="${results_dir:-$REPO_ROOT/results/squad_inference_$(date +%Y%m%d_%H%M%S)}"
version_flag="--noversion_2_with_negative"
[[ "$squad_version" == "2.0" ]] && version_flag="--version_2_with_negative"

cmd=("$PYTHON" "$REPO_ROOT/run_squad.py"
  --vocab_file="$vocab" --bert_config_file="$bert_config" --init_checkpoint="$init_checkpoint"
  "$lower_case" --do_predict --predict_file="$predict_file" --predict_batch_size="$batch_size"
  --max_seq_length="$seq_length" --doc_stride="$doc_stride"
  $(precision_flags "$precision") "$(xla_flag "$use_xla")" "$version_flag"
  --output_dir="$results_dir" --dllog_path="$results_dir/squad_log.jsonl" ${passed_through[@]+"${passed_through[@]}"})

print_or_run "$dry_run" "$results_dir" "${cmd[@]}"
