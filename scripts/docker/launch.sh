#!/usr/bin/env bash
# Starts the image with all GPUs, data/ and results/ mounted.
#   scripts/docker/launch.sh [command ...]     (default: an interactive shell; IMAGE=name to pick the image)
set -euo pipefail
if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then sed -n '2,3p' "$0" | sed 's/^# \{0,1\}//'; exit 0; fi
[[ "${1:-}" != -* ]] || { echo "error: unknown option $1 (see --help)" >&2; exit 2; }
cd "$(dirname "$0")/../.."
mkdir -p data results
docker run --rm -it --gpus all --shm-size=1g --ulimit memlock=-1 --ulimit stack=67108864 \
  -v "$PWD/data:/workspace/bert/data" -v "$PWD/results:/workspace/bert/results" \
  "${IMAGE:-bert-tf2}" "${@:-bash}"
