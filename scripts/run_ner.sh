#!/usr/bin/env bash
# Fine-tunes BERT for named-entity recognition, then scores the dev file and tags the test
# file (NVIDIA's BioBERT-style wrapper). Run with --help for the arguments and options.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/squad_common.sh"

usage() {
  cat <<EOF
Usage: scripts/run_ner.sh [options] [batch_size [learning_rate [precision [use_xla [epochs
           [seq_length]]]]]] [-- run_ner.py flags]

Fine-tunes on <data_dir>/train.txt, prints the entity precision, recall and F1 on
dev.txt, and tags test.txt (CoNLL files: one "word ... tag" line per token, a blank line
between sentences). Paths in this help are relative to the repository; your own paths to
the current folder. Everything goes to results/ner_<timestamp>/ (checkpoints, model.ckpt,
label_list.txt, eval_results.txt, eval_predictions.txt, test_predictions.txt,
logfile.txt); rerunning with --results_dir of an unfinished run resumes it.

Arguments (all optional, in this order; defaults in brackets):
  batch_size       windows per GPU per step, also per evaluation batch [32]
  learning_rate    peak learning rate, used as given, never scaled by the GPU count [5e-5]
  precision        fp32 | fp16 | bf16 (fp16/bf16: --amp --amp_dtype=float16/bfloat16) [fp16]
  use_xla          true | false [true] (bf16 on a CPU runs without XLA, see bert/train/precision.py)
  epochs           training epochs [3.0]
  seq_length       WordPiece tokens per window; longer sentences take several windows [128]

Options (before the arguments):
  --data_dir DIR           folder holding train.txt, dev.txt and test.txt [data/sample/ner: the
                           bundled template-generated fixture, for a smoke run only]
  --init_checkpoint PATH   pretrained weights: TF checkpoint prefix, folder or .safetensors
                           [data/download/google_pretrained_weights/uncased_L-12_H-768_A-12/bert_model.ckpt]
  --bert_config_file FILE  BERT config instead of the one next to the checkpoint
                           (else configs/bert_config_base.json)
  --vocab_file FILE        vocab instead of vocab.txt next to the checkpoint
  --cased                  keep case (cased models, usual for NER); lower-cased by default
  --results_dir DIR        output folder instead of results/ner_<timestamp>
  --dry_run                check the arguments and print the command; run nothing
  -h, --help               show this help
  Flags after -- go to run_ner.py unchanged (e.g. -- --tag_scheme=iob1 --export_dir=DIR).

Environment:
  PYTHON                the Python interpreter to run (default: python3)
  CUDA_VISIBLE_DEVICES  the GPUs to use; more than one visible runs MirroredStrategy over them all
EOF
}

data_dir="$REPO_ROOT/data/sample/ner" init_checkpoint="$(google_model_dir base)/bert_model.ckpt"
config_override="" vocab_override="" lower_case="--do_lower_case" results_dir="" dry_run=0
parse_options --data_dir=data_dir --init_checkpoint=init_checkpoint --bert_config_file=config_override \
  --vocab_file=vocab_override --cased=lower_case:--nodo_lower_case --results_dir=results_dir --dry_run=dry_run:1 \
  -- "$@"
at_most 6 passes

batch_size="${arguments[0]:-32}"
learning_rate="${arguments[1]:-5e-5}"
precision="${arguments[2]:-fp16}"
use_xla="${arguments[3]:-true}"
epochs="${arguments[4]:-3.0}"
seq_length="${arguments[5]:-128}"

check_int batch_size "$batch_size" 1
check_positive_number learning_rate "$learning_rate"
check_choice precision "$precision" fp32 fp16 bf16
check_choice use_xla "$use_xla" true false
check_positive_number epochs "$epochs"
check_int seq_length "$seq_length" 3

[[ -d "$data_dir" ]] || die "--data_dir $data_dir is not a folder"
for name in train.txt dev.txt test.txt; do
  [[ -f "$data_dir/$name" ]] || die "$data_dir/$name not found (--data_dir needs train.txt, dev.txt and test.txt)"
done
check_checkpoint "$init_checkpoint"
bert_config="$(bert_config_for base "$init_checkpoint" "$config_override")"
vocab="$(vocab_for "$init_checkpoint" "$vocab_override")"
results_dir="${results_dir:-$REPO_ROOT/results/ner_$(date +%Y%m%d_%H%M%S)}"

cmd=("$PYTHON" "$REPO_ROOT/run_ner.py"
  --vocab_file="$vocab" --bert_config_file="$bert_config" --init_checkpoint="$init_checkpoint" "$lower_case"
  --data_dir="$data_dir" --do_train --do_eval --do_predict
  --train_batch_size="$batch_size" --eval_batch_size="$batch_size" --predict_batch_size="$batch_size"
  --learning_rate="$learning_rate" --num_train_epochs="$epochs" --max_seq_length="$seq_length"
  $(precision_flags "$precision") "$(xla_flag "$use_xla")"
  --output_dir="$results_dir" --dllog_path="$results_dir/ner_log.jsonl" ${passed_through[@]+"${passed_through[@]}"})

print_or_run "$dry_run" "$results_dir" "${cmd[@]}"
