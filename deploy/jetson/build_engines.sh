#!/usr/bin/env bash
# Build TensorRT engines ON the Jetson from ONNX files copied from a workstation. Engines are tied to the
# TensorRT version and the GPU, so only the ONNX (and calibration manifests) travel; engines are built here.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
ES_PROG=build_engines.sh
# shellcheck source=deploy/jetson/lib.sh
source "$HERE/lib.sh"

usage() {
    cat <<EOF
Usage: deploy/jetson/build_engines.sh [--onnx-dir DIR | --onnx FILE ...] [--precision fp16|int8|both]
           [--calib NAME] [--shapes MIN:OPT:MAX] [--out-dir DIR] [--cache-dir DIR] [--edgeseg CMD]
           [--dry-run] [--help]

For each ONNX file and precision runs:
  edgeseg build-engine FILE.onnx --backend tensorrt --fp16            --out OUT/NAME-fp16.engine --timing-cache CACHE
  edgeseg build-engine FILE.onnx --backend tensorrt --int8 --calib N  --out OUT/NAME-int8.engine --timing-cache CACHE
An FP32 ONNX gets an FP16 and (with --calib NAME, a calibration set from 'edgeseg calib make --name NAME'
that must be available here) an INT8 engine. An ONNX already quantized on the workstation by 'edgeseg
quantize' (name contains fp16, int8 or qdq) is built as it is, without a precision flag: engines are
strongly typed, the graph carries the precision. Shipping Q/DQ ONNX is the simpler INT8 route.
The timing cache is one file per module and TensorRT version (CACHE = CACHE_DIR/MODULE-trtVERSION.cache), so
rebuilds are fast and caches from another device or TensorRT are never mixed in.
Changes on the device: writes engines (+ .json sidecars) under OUT and the timing cache; nothing else.

  --onnx-dir DIR      every *.onnx in DIR (default: $REPO/artifacts/onnx)
  --onnx FILE         one ONNX file (repeatable; replaces --onnx-dir)
  --precision P       fp16, int8 or both (default: both)
  --calib NAME        calibration manifest for INT8
  --shapes S          dynamic batch profile MIN:OPT:MAX, passed through (e.g. 1:1:8)
  --out-dir DIR       engines go here (default: $REPO/engines/MODULE-trtVERSION)
  --cache-dir DIR     timing caches (default: \${XDG_CACHE_HOME:-~/.cache}/edgeseg/timing)
  --edgeseg CMD       edgeseg executable (default: edgeseg on PATH, e.g. from setup.sh's venv)
  --dry-run           print every command instead of running it (works on any Linux)
  -h, --help          this help
EOF
}

ONNX_DIR="$REPO/artifacts/onnx"
ONNX_FILES=()
PRECISION=both
CALIB=""
SHAPES=""
OUT_DIR=""
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/edgeseg/timing"
EDGESEG=edgeseg
while [[ $# -gt 0 ]]; do
    case "$1" in
        --onnx-dir) ONNX_DIR=${2:?--onnx-dir needs a directory}; shift 2 ;;
        --onnx) ONNX_FILES+=("${2:?--onnx needs a file}"); shift 2 ;;
        --precision) PRECISION=${2:?--precision needs fp16, int8 or both}; shift 2 ;;
        --calib) CALIB=${2:?--calib needs a manifest name}; shift 2 ;;
        --shapes) SHAPES=${2:?--shapes needs MIN:OPT:MAX}; shift 2 ;;
        --out-dir) OUT_DIR=${2:?--out-dir needs a directory}; shift 2 ;;
        --cache-dir) CACHE_DIR=${2:?--cache-dir needs a directory}; shift 2 ;;
        --edgeseg) EDGESEG=${2:?--edgeseg needs a command}; shift 2 ;;
        --dry-run) ES_DRY_RUN=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) es_die "unknown option '$1'; see --help" ;;
    esac
done

case "$PRECISION" in
    fp16) PRECISIONS=(fp16) ;;
    int8) PRECISIONS=(int8) ;;
    both) PRECISIONS=(fp16 int8) ;;
    *) es_die "--precision '$PRECISION' is not fp16, int8 or both" ;;
esac
if [[ -n "$SHAPES" && ! "$SHAPES" =~ ^[0-9]+:[0-9]+:[0-9]+$ ]]; then
    es_die "--shapes '$SHAPES' is not MIN:OPT:MAX (e.g. 1:1:8)"
fi

es_detect_report

if [[ ${#ONNX_FILES[@]} -eq 0 ]]; then
    [[ -d "$ONNX_DIR" ]] || es_die "$ONNX_DIR: no such directory; copy the ONNX files there or pass --onnx-dir/--onnx"
    shopt -s nullglob
    ONNX_FILES=("$ONNX_DIR"/*.onnx)
    shopt -u nullglob
    [[ ${#ONNX_FILES[@]} -gt 0 ]] || es_die "$ONNX_DIR: no *.onnx files; export them on the workstation and copy them here"
fi
for f in "${ONNX_FILES[@]}"; do
    [[ -f "$f" ]] || es_die "$f: no such ONNX file; check the path"
done

SLUG=$(es_module_slug)
TRT=$(es_trt_version)
OUT_DIR=${OUT_DIR:-"$REPO/engines/$SLUG-trt$TRT"}
CACHE="$CACHE_DIR/$SLUG-trt$TRT.cache"

es_run mkdir -p "$OUT_DIR" "$CACHE_DIR"
built=0
skipped=0
wants() { [[ " ${PRECISIONS[*]} " == *" $1 "* ]]; }
for onnx in "${ONNX_FILES[@]}"; do
    name=$(basename "$onnx" .onnx)
    # An ONNX already quantized on the workstation (edgeseg quantize: FP16, or INT8 Q/DQ) is built as it is:
    # engines are strongly typed, so the graph carries the precision and no --fp16/--int8 flag is passed.
    case "$name" in
        *qdq*|*int8*) graph=int8 ;;
        *fp16*) graph=fp16 ;;
        *) graph=fp32 ;;
    esac
    if [[ "$graph" != fp32 ]]; then
        if ! wants "$graph"; then
            es_log "skip $name: its graph is $graph, not --precision $PRECISION"; skipped=$((skipped + 1)); continue
        fi
        jobs=("$graph:")
    else
        jobs=()
        for prec in "${PRECISIONS[@]}"; do
            if [[ "$prec" == int8 && -z "$CALIB" ]]; then
                es_log "skip $name int8: FP32 ONNX and no --calib NAME (or ship an INT8 Q/DQ ONNX instead)"
                skipped=$((skipped + 1)); continue
            fi
            jobs+=("$prec:--$prec")
        done
    fi
    for job in "${jobs[@]}"; do
        prec=${job%%:*}
        flag=${job#*:}
        engine="$OUT_DIR/$name-$prec.engine"
        if [[ "$graph" != fp32 ]]; then engine="$OUT_DIR/$name.engine"; fi
        args=("$EDGESEG" build-engine "$onnx" --backend tensorrt)
        if [[ -n "$flag" ]]; then args+=("$flag"); fi
        if [[ "$flag" == --int8 ]]; then args+=(--calib "$CALIB"); fi
        args+=(--out "$engine" --timing-cache "$CACHE")
        if [[ -n "$SHAPES" ]]; then args+=(--shapes "$SHAPES"); fi
        es_run "${args[@]}"
        built=$((built + 1))
    done
done

if [[ "$ES_DRY_RUN" == 1 ]]; then
    echo "# dry run: nothing was executed ($built engine builds planned, $skipped skipped)"
else
    es_log "$built engines in $OUT_DIR ($skipped skipped); timing cache $CACHE"
fi
