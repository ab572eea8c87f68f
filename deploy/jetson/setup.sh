#!/usr/bin/env bash
# Set up edgeseg on a Jetson for running TensorRT engines: a venv that sees JetPack's own tensorrt (and
# pycuda), edgeseg installed without dependencies (so no CUDA PyTorch is pulled), and the light deps.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
ES_PROG=setup.sh
# shellcheck source=deploy/jetson/lib.sh
source "$HERE/lib.sh"

usage() {
    cat <<EOF
Usage: deploy/jetson/setup.sh [--venv DIR] [--python PY] [--with-onnxruntime] [--dry-run] [--help]

Detects L4T/JetPack, TensorRT, CUDA and the module from the system, then:
  1. python3 -m venv --system-site-packages DIR   (sees JetPack's tensorrt and pycuda; nothing of them is installed)
  2. pip install 'numpy>=1.24,<2' onnx pillow tqdm tifffile [onnxruntime]
  3. pip install --no-deps REPO                      (edgeseg without torch: engines need no PyTorch)
  4. checks: import tensorrt; edgeseg --version
Changes on the device: only DIR (default: REPO/.venv-jetson). No apt, no sudo, no power/clock changes.

  --venv DIR           virtual environment to create (default: $REPO/.venv-jetson)
  --python PY          interpreter for the venv (default: python3; JetPack 6 ships 3.10; edgeseg needs >= 3.10)
  --with-onnxruntime   also install onnxruntime (CPU) to compare engines against ONNX Runtime
  --dry-run            print every command instead of running it (works on any Linux)
  -h, --help           this help
Refuses on a machine that is not a Jetson (one line, exit 2) unless --dry-run.
EOF
}

VENV="$REPO/.venv-jetson"
PY=python3
WITH_ORT=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --venv) VENV=${2:?--venv needs a directory}; shift 2 ;;
        --python) PY=${2:?--python needs an interpreter}; shift 2 ;;
        --with-onnxruntime) WITH_ORT=1; shift ;;
        --dry-run) ES_DRY_RUN=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) es_die "unknown option '$1'; see --help" ;;
    esac
done

es_detect_report

if [[ "$ES_DRY_RUN" != 1 ]]; then
    # edgeseg requires Python >= 3.10; JetPack 5 (Ubuntu 20.04) has 3.8 and its TensorRT bindings are for 3.8.
    if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
        es_die "$PY is older than 3.10 (JetPack 5?); edgeseg needs Python >= 3.10 -- use JetPack 6, or build engines with trtexec"
    fi
fi

VPY="$VENV/bin/python"
# numpy < 2: JetPack's pycuda (and other system extensions) are built against numpy 1.x.
DEPS=("numpy>=1.24,<2" "onnx>=1.16" "pillow>=10" "tqdm>=4.60" "tifffile>=2023.1")
if [[ "$WITH_ORT" == 1 ]]; then DEPS+=("onnxruntime>=1.18"); fi

es_run "$PY" -m venv --system-site-packages "$VENV"
es_run "$VPY" -m pip install "${DEPS[@]}"
es_run "$VPY" -m pip install --no-deps "$REPO"
es_run "$VPY" -c "import tensorrt; print('tensorrt', tensorrt.__version__)"
es_run "$VPY" -c "import importlib.util as u; print('pycuda', 'present' if u.find_spec('pycuda') else 'absent')"
es_run "$VENV/bin/edgeseg" --version

if [[ "$ES_DRY_RUN" == 1 ]]; then
    echo "# dry run: nothing was executed"
else
    es_log "ready: source $VENV/bin/activate, then deploy/jetson/build_engines.sh"
fi
