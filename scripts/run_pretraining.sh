#!/usr/bin/env bash
# BERT pretraining, phase 1 (seq 128, 20 predictions) then phase 2 (seq 512, 80 predictions),
# phase 2 initialised from phase 1's final weights. NVIDIA's positional arguments:
#
#   scripts/run_pretraining.sh [options] train_batch_size_phase1 train_batch_size_phase2 eval_batch_size \
#       learning_rate_phase1 learning_rate_phase2 precision use_xla num_gpus warmup_steps_phase1 \
#       warmup_steps_phase2 train_steps save_checkpoints_steps num_accumulation_steps_phase1 \
#       num_accumulation_steps_phase2 bert_model
#
#   precision      fp32 | fp16 (dynamic loss scaling) | bf16
#   use_xla        true | false
#   num_gpus       GPUs on this node (1 = one device; more = tf.distribute MirroredStrategy, or
#                  with --horovod one process per GPU under horovodrun)
#   train_steps    phase-1 updates; phase 2 runs train_steps * 1563 / 7038 updates (NVIDIA's LAMB ratio)
#   bert_model     base | large (configs/bert_config_<model>.json)
#   batch sizes are per GPU per micro-batch; the learning rates are used as given (never scaled).
#
# Options (before the positional arguments):
#   --data_dir DIR     holds seq_128_pred_20/ and seq_512_pred_80/ shards (default data/tfrecord/wikicorpus_en)
#   --results_dir DIR  output (default results/pretraining); rerunning resumes where it stopped
#   --vocab_file FILE  needed only with --dynamic_masking
#   --dynamic_masking  mask on the fly (shards written with create_pretraining_data.py --no_masking)
#   --horovod          launch with `horovodrun -np num_gpus` and all-reduce with Horovod
#                      (install it with scripts/install_horovod.sh)
#
# Example (NVIDIA's LAMB recipe on 8 GPUs):
#   scripts/run_pretraining.sh 64 8 8 6e-3 4e-3 fp16 true 8 2000 200 7038 200 128 512 large
# Multi-node: start this script on every node with TF_CONFIG set, inside a SLURM job step with one
# task per node, or under Open MPI (mpirun -np 2 -H node1:1,node2:1 scripts/run_pretraining.sh ...;
# pip install mpi4py); tf.distribute.MultiWorkerMirroredStrategy then spans the nodes.
set -euo pipefail
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
source "$(dirname "$0")/lib/options.sh"

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DATA_DIR="$ROOT/data/tfrecord/wikicorpus_en"
RESULTS_DIR="$ROOT/results/pretraining"
VOCAB_FILE=""
DYNAMIC_MASKING=""
HOROVOD=false
parse_options --data_dir=DATA_DIR --results_dir=RESULTS_DIR --vocab_file=VOCAB_FILE \
  --dynamic_masking=DYNAMIC_MASKING:--dynamic_masking --horovod=HOROVOD:true -- "$@"
(( ${#passed_through[@]} == 0 )) || die "no flags pass through \"--\" here (see --help)"
set -- "${arguments[@]}"
[[ $# -eq 15 ]] || die "expected 15 positional arguments, got $# (see --help)"
EXTRA=(${VOCAB_FILE:+"--vocab_file=$VOCAB_FILE"} ${DYNAMIC_MASKING:+"$DYNAMIC_MASKING"})

positive_int() { [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive integer, got '$2'"; }
non_negative_int() { [[ "$2" =~ ^[0-9]+$ ]] || die "$1 must be a non-negative integer, got '$2'"; }
positive_float() { [[ "$2" =~ ^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$ ]] && awk "BEGIN{exit !($2 > 0)}" \
  || die "$1 must be a positive number, got '$2'"; }

positive_int train_batch_size_phase1 "$1"; positive_int train_batch_size_phase2 "$2"; positive_int eval_batch_size "$3"
positive_float learning_rate_phase1 "$4"; positive_float learning_rate_phase2 "$5"
case "$6" in fp32) AMP=(--noamp) ;; fp16) AMP=(--amp --amp_dtype=float16) ;; bf16) AMP=(--amp --amp_dtype=bfloat16) ;;
  *) die "precision must be fp32, fp16 or bf16, got '$6'" ;; esac
case "$7" in true) XLA=--use_xla ;; false) XLA=--nouse_xla ;; *) die "use_xla must be true or false, got '$7'" ;; esac
positive_int num_gpus "$8"; non_negative_int warmup_steps_phase1 "$9"; non_negative_int warmup_steps_phase2 "${10}"
positive_int train_steps "${11}"; positive_int save_checkpoints_steps "${12}"
positive_int num_accumulation_steps_phase1 "${13}"; positive_int num_accumulation_steps_phase2 "${14}"
case "${15}" in base|large) CONFIG="$ROOT/configs/bert_config_${15}.json" ;;
  *) die "bert_model must be base or large, got '${15}'" ;; esac

if [[ "$8" -gt 1 ]]; then
  export CUDA_VISIBLE_DEVICES="${CUDA_VISIBLE_DEVICES:-$(seq -s, 0 $(($8 - 1)))}"
fi
PHASE2_STEPS=$(( ${11} * 1563 / 7038 )); [[ $PHASE2_STEPS -ge 1 ]] || PHASE2_STEPS=1
PYTHON="${PYTHON:-python3}"
LAUNCH=("$PYTHON")
if $HOROVOD; then
  command -v horovodrun >/dev/null || die "--horovod: horovodrun not found (install with scripts/install_horovod.sh)"
  LAUNCH=(horovodrun -np "$8" -H "localhost:$8" "$PYTHON"); EXTRA+=("--horovod")
fi

run_phase() {  # phase seq predictions batch lr warmup steps accumulation [init]
  local phase=$1 out="$RESULTS_DIR/phase_$1"
  [[ -d "$DATA_DIR/seq_$2_pred_$3" ]] || die "no shards in $DATA_DIR/seq_$2_pred_$3 (run scripts/data_download.sh)"
  mkdir -p "$out"
  "${LAUNCH[@]}" "$ROOT/run_pretraining.py" --bert_config_file="$CONFIG" \
    --input_files_dir="$DATA_DIR/seq_$2_pred_$3" --eval_files_dir="$DATA_DIR/seq_$2_pred_$3" \
    --output_dir="$out" --do_train --max_seq_length="$2" --max_predictions_per_seq="$3" \
    --train_batch_size="$4" --eval_batch_size="$EVAL_BATCH" --learning_rate="$5" --num_warmup_steps="$6" \
    --num_train_steps="$7" --num_accumulation_steps="$8" --save_checkpoints_steps="$SAVE_STEPS" \
    --optimizer_type=lamb --decay_power=0.5 --dllog_path="$out/pretraining_log.jsonl" \
    "${AMP[@]}" "$XLA" ${9:+--init_checkpoint="$9"} "${EXTRA[@]}"
}
EVAL_BATCH=$3; SAVE_STEPS=${12}
run_phase 1 128 20 "$1" "$4" "$9" "${11}" "${13}"
run_phase 2 512 80 "$2" "$5" "${10}" "$PHASE2_STEPS" "${14}" "$RESULTS_DIR/phase_1/model.ckpt"
echo "Pretraining done: $RESULTS_DIR/phase_2/model.ckpt (Google variable names) and bert_config.json"
