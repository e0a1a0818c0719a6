#!/usr/bin/env bash
# The whole pipeline on the bundled sample, on a CPU in a few minutes:
#   sample corpus -> WordPiece vocab -> pretraining shards -> a tiny BERT pretrained for 300 steps
#   -> fine-tuned on the bundled SQuAD sample -> predictions -> EM/F1.
# Sets up its own virtualenv (.venv) on first use. Outputs go to results/demo/.
#   scripts/demo.sh [--steps N]     pretraining updates (default 300)
set -euo pipefail
STEPS=300
while [[ $# -gt 0 ]]; do
  case "$1" in
    --help|-h) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --steps) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { echo "error: --steps needs a positive integer" >&2; exit 2; }
             STEPS="$2"; shift 2 ;;
    *) echo "error: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
[[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.txt
PY="$VENV/bin/python"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
OUT=results/demo
rm -rf "$OUT"
mkdir -p "$OUT"
start=$SECONDS

echo "== 1/5 WordPiece vocabulary from data/sample/sample_corpus.txt"
"$PY" build_vocab.py --input_file=data/sample/sample_corpus.txt --vocab_file="$OUT/vocab.txt" --vocab_size=2000

echo "== 2/5 Pretraining shards (seq 128, 20 predictions, dupe factor 10)"
"$PY" create_pretraining_data.py --input_file=data/sample/sample_corpus.txt --output_file="$OUT/pretraining.tfrecord" \
  --vocab_file="$OUT/vocab.txt" --max_seq_length=128 --max_predictions_per_seq=20 --dupe_factor=10

echo "== 3/5 Pretraining a tiny BERT (configs/bert_config_tiny.json) for $STEPS steps"
"$PY" run_pretraining.py --bert_config_file=configs/bert_config_tiny.json \
  --input_files_dir="$OUT/pretraining.tfrecord" --eval_files_dir="$OUT/pretraining.tfrecord" \
  --output_dir="$OUT/pretraining" --do_train --do_eval --train_batch_size=16 --max_seq_length=128 \
  --max_predictions_per_seq=20 --learning_rate=5e-3 --num_train_steps="$STEPS" --num_warmup_steps=30 \
  --save_checkpoints_steps=100 --display_loss_steps=50 --max_eval_steps=20 --use_xla

echo "== 4/5 Fine-tuning on data/sample/squad_v1.1_sample.json and predicting data/sample/squad_v1.1_dev_sample.json"
"$PY" run_squad.py --bert_config_file=configs/bert_config_tiny.json --vocab_file="$OUT/vocab.txt" \
  --init_checkpoint="$OUT/pretraining/model.ckpt" --output_dir="$OUT/squad" \
  --train_file=data/sample/squad_v1.1_sample.json --predict_file=data/sample/squad_v1.1_dev_sample.json \
  --do_train --do_predict --max_seq_length=192 --doc_stride=64 --train_batch_size=16 \
  --learning_rate=3e-3 --num_train_epochs=40 --warmup_proportion=0.1 --display_loss_steps=20 --use_xla

echo "== 5/5 Official SQuAD v1.1 metric"
"$PY" evaluate-v1.1.py data/sample/squad_v1.1_dev_sample.json "$OUT/squad/predictions.json"

cat <<SUMMARY
Done in $((SECONDS - start)) s (after the install). Outputs:
  $OUT/vocab.txt                       WordPiece vocabulary
  $OUT/pretraining.tfrecord            pretraining shard (Google's feature names)
  $OUT/pretraining/                    checkpoints, pretraining_log.jsonl, eval_results.json, model.ckpt (Google names)
  $OUT/squad/predictions.json          SQuAD predictions (also nbest_predictions.json)
A tiny model pretrained for minutes on a few hundred sentences answers few questions; the full recipe is in README.md.
SUMMARY
