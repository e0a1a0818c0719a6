#!/usr/bin/env bash
# Builds the GPU image from the Dockerfile.   scripts/docker/build.sh [image_name]   (default bert-tf2)
set -euo pipefail
if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then sed -n '2p' "$0" | sed 's/^# //'; exit 0; fi
[[ $# -le 1 ]] || { echo "error: expected at most one argument (image name), got $#" >&2; exit 2; }
[[ "${1:-bert-tf2}" =~ ^[a-z0-9][a-z0-9._/:-]*$ ]] || { echo "error: '$1' is not an image name (see --help)" >&2; exit 2; }
cd "$(dirname "$0")/../.."
docker build -t "${1:-bert-tf2}" .
