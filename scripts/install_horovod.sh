#!/usr/bin/env bash
# Builds Horovod 0.28.1 (its last release) from source and installs it into the current Python.
#
#   scripts/install_horovod.sh [--python PYTHON] [--keep_build_dir]
#
#   --python PYTHON    interpreter to install into (default: python3 on PATH, i.e. the active virtualenv)
#   --keep_build_dir   keep the unpacked, patched source tree (its path is printed) instead of deleting it
#
# Horovod 0.28.1 does not compile against recent TensorFlow (measured with 2.21) as released:
# horovod/tensorflow/xla_mpi_ops.cc includes XLA headers the tensorflow wheel no longer ships. That file only adds the XLA custom-call
# ops (HOROVOD_ENABLE_XLA_OPS), which we never use, so this script drops it from the build and compiles
# the rest unchanged: TensorFlow ops, Gloo, and MPI when `mpicc` is on PATH. With a build without
# those ops, hvd.allreduce / hvd.grouped_allreduce / hvd.broadcast work with Keras 3 variables;
# hvd.DistributedGradientTape and horovod.tensorflow.keras do not (this repository uses neither).
#
# Needs: a C++17 compiler, cmake >= 3.13, make, and tensorflow (or tensorflow-cpu) already installed
# in PYTHON (its headers and libtensorflow_framework come from the wheel). Needs PyPI access.
# The compile takes tens of minutes on 2 cores. Horovod runs make -j8 unless MAKEFLAGS is set
# (e.g. MAKEFLAGS=-j2 on a small machine).
set -euo pipefail
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() { echo "error: $*" >&2; exit 2; }
fail() { echo "error: $*" >&2; exit 1; }

VERSION=0.28.1
PYTHON=python3
KEEP=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --help|-h) usage; exit 0 ;;
    --python) [[ $# -ge 2 ]] || die "--python needs a value"; PYTHON="$2"; shift 2 ;;
    --keep_build_dir) KEEP=true; shift ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done

command -v "$PYTHON" >/dev/null || die "--python: $PYTHON not found"
command -v cmake >/dev/null || fail "cmake not found (apt-get install cmake, or pip install cmake)"
command -v c++ >/dev/null || fail "no C++ compiler (c++) on PATH (apt-get install g++)"
TF_VERSION=$("$PYTHON" -c 'import tensorflow as tf; print(tf.__version__)' 2>/dev/null) \
  || fail "tensorflow is not importable from $PYTHON; install it first (Horovod compiles against it)"
BIN_DIR=$("$PYTHON" -c 'import sys, sysconfig; print(sysconfig.get_path("scripts"))')

BUILD_DIR=$(mktemp -d "${TMPDIR:-/tmp}/horovod-build.XXXXXX")
if $KEEP; then
  echo "Build directory (kept): $BUILD_DIR"
else
  trap 'rm -rf "$BUILD_DIR"' EXIT
fi

echo "Downloading the horovod==$VERSION source distribution from PyPI"
"$PYTHON" -m pip download --quiet --disable-pip-version-check --no-binary :all: --no-deps \
  "horovod==$VERSION" -d "$BUILD_DIR"
tar -xzf "$BUILD_DIR/horovod-$VERSION.tar.gz" -C "$BUILD_DIR"
SOURCE="$BUILD_DIR/horovod-$VERSION"

CMAKE_LISTS="$SOURCE/horovod/tensorflow/CMakeLists.txt"
grep -q 'xla_mpi_ops\.cc' "$CMAKE_LISTS" \
  || fail "$CMAKE_LISTS no longer lists xla_mpi_ops.cc; this patch is for horovod $VERSION only"
sed -i '/xla_mpi_ops\.cc/d' "$CMAKE_LISTS"
echo "Patched: removed xla_mpi_ops.cc from horovod/tensorflow/CMakeLists.txt"

export HOROVOD_WITH_TENSORFLOW=1 HOROVOD_WITH_GLOO=1 HOROVOD_WITHOUT_PYTORCH=1 HOROVOD_WITHOUT_MXNET=1
if command -v mpicc >/dev/null; then
  export HOROVOD_WITH_MPI=1
  echo "Building with Gloo and MPI ($(command -v mpicc)) against tensorflow $TF_VERSION"
else
  export HOROVOD_WITHOUT_MPI=1
  echo "Building with Gloo only (no mpicc on PATH) against tensorflow $TF_VERSION"
fi
# No build isolation: the build imports the installed tensorflow for its headers and link flags.
START=$SECONDS
"$PYTHON" -m pip install --disable-pip-version-check --no-build-isolation --no-cache-dir "$SOURCE"
echo "Built and installed in $(( (SECONDS - START) / 60 )) min $(( (SECONDS - START) % 60 )) s"

cd "$BUILD_DIR"  # not the source tree, whose horovod/ folder would shadow the installed package
"$PYTHON" -c 'import horovod, horovod.tensorflow; print("horovod", horovod.__version__, "imports")' \
  || fail "horovod installed but horovod.tensorflow does not import"
CHECK=$("$BIN_DIR/horovodrun" --check-build 2>/dev/null) || fail "horovodrun --check-build failed"
echo "$CHECK"
grep -q '\[X\] TensorFlow' <<<"$CHECK" || fail "horovodrun --check-build does not list TensorFlow as built"
grep -q '\[X\] Gloo' <<<"$CHECK" || fail "horovodrun --check-build does not list Gloo as built"
