#!/usr/bin/env bash
# Downloads SQuAD, Google's BERT checkpoints and Wikipedia, prepares balanced text shards,
# then writes phase-1 and phase-2 pretraining TFRecords. Run with --help for the options.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"

usage() {
  cat <<EOF
Usage: scripts/data_download.sh [options] [all|squad|pretrained|wiki|books|sample]

Downloads into data/download/, prepares text shards (one sentence per line, a blank
line between documents) in data/prepared/<corpus>/, then, if create_pretraining_data.py
exists, writes TFRecords to data/tfrecord/<corpus>/seq_128_pred_20 (phase 1) and
data/tfrecord/<corpus>/seq_512_pred_80 (phase 2). Shards and TFRecords of an earlier
run of the same corpus are replaced; finished downloads are kept and not fetched again.

Targets (default: all):
  squad       SQuAD v1.1 and v2.0 train/dev JSON
  pretrained  Google's four English BERT checkpoints, unpacked
  wiki        the Wikipedia dump -> shards -> TFRecords
  books       your own books (--books-dir) -> shards -> TFRecords
  sample      data/sample/sample_corpus.txt -> shards -> TFRecords (a quick demo)
  all         squad, pretrained and wiki (pooled with books when --books-dir is given)

Options:
  --dry-run          print what would be fetched and run; fetch and write nothing
  --base-url URL     fetch every file from URL/<group>/<file> (a mirror or test server)
  --wiki-lang LANG   Wikipedia language code (default: en)
  --books-dir DIR    folder of plain-text books, one *.txt file per book
  --shards N         number of text shards (default: 256; 2 for sample)
  --vocab FILE       WordPiece vocab for the TFRecords
                     (default: data/download/google_pretrained_weights/uncased_L-24_H-1024_A-16/vocab.txt)
  --cased            keep case (use with a cased vocab); lower-cased by default
  --workers N        create_pretraining_data.py worker processes (default: number of cores)
  -h, --help         show this help

Environment:
  PYTHON             the Python interpreter to run (default: python3)
EOF
}

source "$(dirname "$0")/lib/options.sh"

dry_run=0
base_url=""
wiki_lang="en"
books_dir=""
shards=""
vocab="data/download/google_pretrained_weights/uncased_L-24_H-1024_A-16/vocab.txt"
lower_case="true"
workers="$(nproc 2>/dev/null || echo 1)"
target=""

while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --dry-run) dry_run=1; shift ;;
    --base-url) need_value "$@"; base_url="$2"; shift 2 ;;
    --wiki-lang) need_value "$@"; wiki_lang="$2"; shift 2 ;;
    --books-dir) need_value "$@"; books_dir="$2"; shift 2 ;;
    --shards) need_value "$@"; shards="$2"; shift 2 ;;
    --vocab) need_value "$@"; vocab="$2"; shift 2 ;;
    --cased) lower_case="false"; shift ;;
    --workers) need_value "$@"; workers="$2"; shift 2 ;;
    all|squad|pretrained|wiki|books|sample)
      [[ -z "$target" ]] || die "only one target allowed, got '$target' and '$1'"
      target="$1"; shift ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
target="${target:-all}"
[[ -z "$shards" || "$shards" =~ ^[1-9][0-9]*$ ]] || die "--shards must be a positive integer, got '$shards'"
[[ "$workers" =~ ^[1-9][0-9]*$ ]] || die "--workers must be a positive integer, got '$workers'"
[[ "$wiki_lang" =~ ^[A-Za-z0-9-]+$ ]] || die "--wiki-lang must be a language code such as 'en', got '$wiki_lang'"
if [[ "$target" == books && -z "$books_dir" ]]; then die "target 'books' needs --books-dir DIR"; fi
if [[ -n "$books_dir" && ! -d "$books_dir" && $dry_run -eq 0 ]]; then die "--books-dir '$books_dir' is not a folder"; fi

cd "$REPO_ROOT"

# Runs a command, or only prints it under --dry-run.
run() {
  if [[ $dry_run -eq 1 ]]; then
    echo "would run: $*"
  else
    echo "+ $*" >&2
    "$@"
  fi
}

download() {
  local args=(-m bert.data.download --no-progress)
  if [[ $dry_run -eq 1 ]]; then args+=(--dry-run); fi
  if [[ -n "$base_url" ]]; then args+=(--base-url "$base_url"); fi
  args+=(--wiki-lang "$wiki_lang" "$@")
  "$PYTHON" "${args[@]}"
}

# prepare NAME SOURCE_ARGS...: text shards in data/prepared/NAME.
prepare() {
  local name="$1"; shift
  run "$PYTHON" -m bert.data.prepare_corpus "$@" --output-dir "data/prepared/$name" --num-shards "${shards:-256}"
}

# tfrecords NAME: phase-1 and phase-2 instances from data/prepared/NAME.
tfrecords() {
  local name="$1"
  if [[ ! -f create_pretraining_data.py ]]; then
    echo "note: create_pretraining_data.py not found; stopping after the text shards in data/prepared/$name"
    return 0
  fi
  if [[ $dry_run -eq 0 && ! -f "$vocab" ]]; then
    echo "error: vocab file '$vocab' not found (run the 'pretrained' target first, or pass --vocab FILE)" >&2
    exit 1
  fi
  local phase seq preds
  for phase in "128 20" "512 80"; do
    read -r seq preds <<<"$phase"
    local out="data/tfrecord/$name/seq_${seq}_pred_${preds}"
    run rm -rf "$out"  # no stale shards from a run with a different --shards
    run "$PYTHON" create_pretraining_data.py \
      --input_dir "data/prepared/$name" --output_dir "$out" \
      --vocab_file "$vocab" --do_lower_case="$lower_case" \
      --max_seq_length "$seq" --max_predictions_per_seq "$preds" \
      --masked_lm_prob 0.15 --random_seed 12345 --dupe_factor 5 --short_seq_prob 0.1 \
      --num_workers "$workers"
  done
}

wiki_dump="data/download/wikicorpus_${wiki_lang}/${wiki_lang}wiki-latest-pages-articles.xml.bz2"

case "$target" in
  squad) download squad ;;
  pretrained) download google_pretrained_weights ;;
  wiki)
    download wikicorpus
    prepare "wikicorpus_${wiki_lang}" --wiki-dump "$wiki_dump"
    tfrecords "wikicorpus_${wiki_lang}" ;;
  books)
    prepare bookscorpus --books-dir "$books_dir"
    tfrecords bookscorpus ;;
  sample)
    shards="${shards:-2}"
    prepare sample --text-file data/sample/sample_corpus.txt
    tfrecords sample ;;
  all)
    download squad google_pretrained_weights wikicorpus
    if [[ -n "$books_dir" ]]; then
      prepare "books_wiki_${wiki_lang}" --wiki-dump "$wiki_dump" --books-dir "$books_dir"
      tfrecords "books_wiki_${wiki_lang}"
    else
      echo "note: no --books-dir given; pretraining on Wikipedia only"
      prepare "wikicorpus_${wiki_lang}" --wiki-dump "$wiki_dump"
      tfrecords "wikicorpus_${wiki_lang}"
    fi ;;
esac
