# Helpers shared by the SQuAD wrappers (run_squad.sh, run_squad_inference.sh and the two
# finetune_*_benchmark.sh scripts): option parsing, argument checks that end in a one-line error
# with exit status 2, the precision, GPU, config and vocab choices, and the dry run. Sourced, not run.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
GOOGLE_WEIGHTS_DIR="$REPO_ROOT/data/download/google_pretrained_weights"

source "$(dirname "${BASH_SOURCE[0]}")/options.sh"

# check_int NAME VALUE MIN: VALUE is a whole number >= MIN.
check_int() {
  [[ "$2" =~ ^[0-9]+$ ]] && (( 10#$2 >= $3 )) || die "$1 must be a whole number >= $3, got '$2'"
}

# check_positive_number NAME VALUE: VALUE is a decimal or 1e-5-style number > 0.
check_positive_number() {
  [[ "$2" =~ ^([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$ ]] && awk -v v="$2" 'BEGIN { exit !(v + 0 > 0) }' \
    || die "$1 must be a number > 0, got '$2'"
}

# check_choice NAME VALUE CHOICE...: VALUE is one of the CHOICEs.
check_choice() {
  local name="$1" value="$2" choice
  shift 2
  for choice in "$@"; do [[ "$value" == "$choice" ]] && return 0; done
  die "$name must be one of: $*; got '$value'"
}

# check_list NAME VALUE CHECK [ARGS]: VALUE is a comma-separated list; CHECK runs on each item.
check_list() {
  local name="$1" value="$2" check="$3" item
  shift 3
  [[ -n "$value" && "$value" != *,, && "$value" != ,* && "$value" != *, ]] || die "$name must be a comma-separated list, got '$value'"
  IFS=, read -r -a _items <<< "$value"
  for item in "${_items[@]}"; do "$check" "$name item" "$item" "$@"; done
}

# precision_flags PRECISION: run_squad.py's --amp/--amp_dtype for fp32, fp16 or bf16.
precision_flags() {
  case "$1" in
    fp32) echo "--noamp" ;;
    fp16) echo "--amp --amp_dtype=float16" ;;
    bf16) echo "--amp --amp_dtype=bfloat16" ;;
  esac
}

xla_flag() { [[ "$1" == "true" ]] && echo "--use_xla" || echo "--nouse_xla"; }

google_model_dir() {
  [[ "$1" == "large" ]] && echo "$GOOGLE_WEIGHTS_DIR/uncased_L-24_H-1024_A-16" || echo "$GOOGLE_WEIGHTS_DIR/uncased_L-12_H-768_A-12"
}

# check_checkpoint PATH: a folder, a file (.safetensors) or a TF checkpoint prefix (PATH.index).
check_checkpoint() {
  [[ -n "$1" && ( -d "$1" || -f "$1" || -f "$1.index" ) ]] \
    || die "init_checkpoint '$1' not found (expected a folder, a .safetensors file or a prefix with a .index file)"
}

checkpoint_folder() { [[ -d "$1" ]] && echo "$1" || dirname "$1"; }

# bert_config_for MODEL CHECKPOINT OVERRIDE: OVERRIDE, else the checkpoint's own config
# (bert_config.json or config.json next to it), else configs/bert_config_MODEL.json.
bert_config_for() {
  local model="$1" folder override="$3"
  folder="$(checkpoint_folder "$2")"
  if [[ -n "$override" ]]; then
    [[ -f "$override" ]] || die "--bert_config_file $override not found"
    echo "$override"
  elif [[ -f "$folder/bert_config.json" ]]; then
    echo "$folder/bert_config.json"
  elif [[ -f "$folder/config.json" ]]; then
    echo "$folder/config.json"
  elif [[ -f "$REPO_ROOT/configs/bert_config_$model.json" ]]; then
    echo "$REPO_ROOT/configs/bert_config_$model.json"
  else
    die "no BERT config: $folder has no bert_config.json or config.json and configs/bert_config_$model.json is absent (pass --bert_config_file)"
  fi
}

# vocab_for CHECKPOINT OVERRIDE: OVERRIDE, else vocab.txt next to the checkpoint.
vocab_for() {
  local folder
  folder="$(checkpoint_folder "$1")"
  if [[ -n "$2" ]]; then
    [[ -f "$2" ]] || die "--vocab_file $2 not found"
    echo "$2"
  elif [[ -f "$folder/vocab.txt" ]]; then
    echo "$folder/vocab.txt"
  else
    die "no vocab: $folder has no vocab.txt (pass --vocab_file)"
  fi
}

# use_gpus NUM_GPU: exposes GPUs 0..NUM_GPU-1 to TensorFlow (all of them are then used by
# tf.distribute.MirroredStrategy); 0 hides every GPU. A CUDA_VISIBLE_DEVICES already set is kept.
use_gpus() {
  local num_gpu="$1" available=0
  if command -v nvidia-smi >/dev/null 2>&1; then
    available="$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)"
  fi
  if (( num_gpu > 1 && num_gpu > available )); then
    die "num_gpu is $num_gpu but nvidia-smi lists $available GPU(s)"
  fi
  if [[ -z "${CUDA_VISIBLE_DEVICES+set}" ]]; then
    if (( num_gpu == 0 )); then
      export CUDA_VISIBLE_DEVICES=""
    elif (( available > 0 )); then
      export CUDA_VISIBLE_DEVICES="$(seq -s, 0 $((num_gpu - 1)))"
    fi
  fi
  return 0
}

# print_or_run DRY_RUN RESULTS_DIR COMMAND...: prints COMMAND when DRY_RUN is 1; otherwise runs
# it with its output also in RESULTS_DIR/logfile.txt.
print_or_run() {
  local dry_run="$1" results_dir="$2"
  shift 2
  if (( dry_run )); then
    printf '%q ' "$@"
    echo
    return
  fi
  run_logged "$results_dir/logfile.txt" "$@"
  echo "Results in $results_dir"
}

# run_logged LOGFILE COMMAND...: runs COMMAND, its output also appended to LOGFILE.
run_logged() {
  local log="$1"
  shift
  mkdir -p "$(dirname "$log")"
  echo "Command: $(printf '%q ' "$@")" | tee -a "$log"
  "$@" 2> >(tee -a "$log" >&2) | tee -a "$log"
}
