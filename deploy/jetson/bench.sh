#!/usr/bin/env bash
# Benchmark engines on the Jetson with tegrastats power sampling, under a recorded (optionally set) power
# mode and clocks, restoring both on exit. Results: results/MODULE-modeN-NAME.json (edgeseg-bench/1 schema).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
ES_PROG=bench.sh
# shellcheck source=deploy/jetson/lib.sh
source "$HERE/lib.sh"

usage() {
    cat <<EOF
Usage: deploy/jetson/bench.sh [--engine FILE ... | --engine-dir DIR | --doctor [--bundle DIR] [--budget-s S]]
           [--power-mode N] [--max-clocks] [--power tegrastats|none] [--image-size H W [--tile|--resize]]
           [--out FILE] [--results-dir DIR] [--edgeseg CMD] [--no-sudo] [--dry-run] [--help]
           [-- EXTRA edgeseg bench ARGS]

Steps (each printed before it runs):
  1. nvpmodel -q                                  record the power mode (id and name)
  2. sudo nvpmodel -m N                           only with --power-mode N different from the current one
  3. sudo jetson_clocks --store FILE; sudo jetson_clocks    only with --max-clocks (locks clocks at max)
  4. edgeseg bench --engine E ... [--image-size H W --tile] --power tegrastats --out results/MODULE-modeN-NAME.json
     [EXTRA]
     or, with --doctor: edgeseg doctor --gpu --bundle DIR --out results/MODULE-modeN-NAME-doctor --budget-s S
     --power tegrastats (the same stages as on a desktop GPU; tegrastats in place of NVML)
  5. on exit, also on error or Ctrl-C: sudo jetson_clocks --restore FILE; sudo nvpmodel -m ORIGINAL
Changes on the device: power mode and clocks, only when asked, and restored on exit. Note: some nvpmodel
switches (e.g. to or from MAXN on Orin) want a reboot; bench.sh does not reboot -- set such a mode first.

  --engine FILE       an engine to benchmark (repeatable)
  --engine-dir DIR    every *.engine in DIR (default: $REPO/engines/MODULE-trtVERSION)
  --doctor            run the doctor's GPU stages instead of edgeseg bench (reports: doctor.json, doctor.md)
  --bundle DIR        the doctor's bundle (default: $REPO/.doctor-bundle; edgeseg doctor --make-bundle)
  --budget-s S        the doctor's whole-run budget in seconds (default 420)
  --power-mode N      run under nvpmodel mode N (restored afterwards)
  --max-clocks        run jetson_clocks for the run (restored afterwards)
  --power P           power sampling passed to edgeseg bench (default: tegrastats)
  --image-size H W    also time whole H x W images at native size: ms per image and images/s beside the
                      per-call (one tile batch) figure, e.g. --image-size 1040 1388 for the largest DSB image
  --tile | --resize   how a whole image is run (default: the engine's training regime; see edgeseg bench)
  --out FILE          results JSON (default: RESULTS_DIR/MODULE-modeN-NAME.json; with --doctor a folder)
  --results-dir DIR   default: $REPO/results
  --edgeseg CMD       edgeseg executable (default: edgeseg on PATH)
  --no-sudo           do not prefix nvpmodel/jetson_clocks with sudo
  --dry-run           print every command instead of running it (works on any Linux; the power mode is
                      then taken from EDGESEG_NVP_MODE_ID / EDGESEG_NVP_MODE_NAME, default 'unknown')
  -h, --help          this help
EOF
}

ENGINES=()
ENGINE_DIR=""
POWER_MODE=""
MAX_CLOCKS=0
POWER=tegrastats
IMAGE_SIZE=()
NATIVE_MODE=""
OUT=""
RESULTS_DIR="$REPO/results"
EDGESEG=edgeseg
USE_SUDO=1
EXTRA=()
DOCTOR=0
BUNDLE="$REPO/.doctor-bundle"
BUDGET_S=420
while [[ $# -gt 0 ]]; do
    case "$1" in
        --engine) ENGINES+=("${2:?--engine needs a file}"); shift 2 ;;
        --engine-dir) ENGINE_DIR=${2:?--engine-dir needs a directory}; shift 2 ;;
        --doctor) DOCTOR=1; shift ;;
        --bundle) BUNDLE=${2:?--bundle needs a directory}; shift 2 ;;
        --budget-s) BUDGET_S=${2:?--budget-s needs seconds}; shift 2 ;;
        --power-mode) POWER_MODE=${2:?--power-mode needs a number}; shift 2 ;;
        --max-clocks) MAX_CLOCKS=1; shift ;;
        --power) POWER=${2:?--power needs tegrastats or none}; shift 2 ;;
        --image-size) IMAGE_SIZE=("${2:?--image-size needs H W}" "${3:?--image-size needs H W}"); shift 3 ;;
        --tile|--resize) NATIVE_MODE=$1; shift ;;
        --out) OUT=${2:?--out needs a file}; shift 2 ;;
        --results-dir) RESULTS_DIR=${2:?--results-dir needs a directory}; shift 2 ;;
        --edgeseg) EDGESEG=${2:?--edgeseg needs a command}; shift 2 ;;
        --no-sudo) USE_SUDO=0; shift ;;
        --dry-run) ES_DRY_RUN=1; shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; EXTRA=("$@"); break ;;
        *) es_die "unknown option '$1'; see --help" ;;
    esac
done
if [[ ${#IMAGE_SIZE[@]} -gt 0 && ! "${IMAGE_SIZE[0]}${IMAGE_SIZE[1]}" =~ ^[0-9]+$ ]]; then
    es_die "--image-size '${IMAGE_SIZE[*]}': expected two numbers H W, e.g. --image-size 1040 1388"
fi
if [[ -n "$NATIVE_MODE" && ${#IMAGE_SIZE[@]} -eq 0 ]]; then
    es_die "$NATIVE_MODE goes with --image-size H W (the whole-image size to time)"
fi
if [[ "$DOCTOR" == 1 && ${#ENGINES[@]} -gt 0 ]]; then
    es_die "--doctor builds its own engines from --bundle; drop --engine"
fi
if [[ ! "$BUDGET_S" =~ ^[0-9]+$ ]]; then
    es_die "--budget-s '$BUDGET_S' is not a whole number of seconds, e.g. --budget-s 420"
fi
if [[ -n "$POWER_MODE" && ! "$POWER_MODE" =~ ^[0-9]+$ ]]; then
    es_die "--power-mode '$POWER_MODE' is not a number; list the modes with: nvpmodel -p --verbose"
fi

es_detect_report

SUDO=()
if [[ "$USE_SUDO" == 1 && -n "$(es_sudo)" ]]; then SUDO=(sudo); fi
SLUG=$(es_module_slug)

if [[ "$DOCTOR" == 0 && ${#ENGINES[@]} -eq 0 ]]; then
    ENGINE_DIR=${ENGINE_DIR:-"$REPO/engines/$SLUG-trt$(es_trt_version)"}
    if [[ -d "$ENGINE_DIR" ]]; then
        shopt -s nullglob
        ENGINES=("$ENGINE_DIR"/*.engine)
        shopt -u nullglob
    fi
    if [[ ${#ENGINES[@]} -eq 0 ]]; then
        if [[ "$ES_DRY_RUN" == 1 ]]; then
            ENGINES=("$ENGINE_DIR/MODEL-fp16.engine")  # placeholder so the plan shows the bench command
        else
            es_die "$ENGINE_DIR: no *.engine files; run deploy/jetson/build_engines.sh first or pass --engine"
        fi
    fi
fi

# 1. Record the power mode. `nvpmodel -q` prints "NV Power Mode: 15W" then the mode id on the next line.
es_show nvpmodel -q
if [[ "$ES_DRY_RUN" == 1 ]]; then
    MODE_ID=${EDGESEG_NVP_MODE_ID:-unknown}
    MODE_NAME=${EDGESEG_NVP_MODE_NAME:-unknown}
else
    command -v nvpmodel >/dev/null || es_die "nvpmodel: not found; it ships with JetPack (package nvidia-l4t-nvpmodel)"
    NVP_OUT=$(nvpmodel -q 2>/dev/null || true)
    MODE_NAME=$(printf '%s\n' "$NVP_OUT" | sed -n 's/^NV Power Mode: *//p' | head -n 1)
    MODE_ID=$(printf '%s\n' "$NVP_OUT" | grep -E '^[0-9]+$' | head -n 1 || true)
    [[ -n "$MODE_ID" ]] || es_die "nvpmodel -q printed no mode id ('$NVP_OUT'); check nvpmodel on this device"
fi
ORIG_MODE_ID=$MODE_ID
printf '# power mode: %s (%s)\n' "$MODE_ID" "$MODE_NAME"

CLOCKS_FILE=""
restore() {
    local rc=$?
    if [[ -n "$CLOCKS_FILE" ]]; then
        es_run "${SUDO[@]}" jetson_clocks --restore "$CLOCKS_FILE" || es_log "could not restore clocks from $CLOCKS_FILE"
    fi
    if [[ "$MODE_ID" != "$ORIG_MODE_ID" ]]; then
        es_run "${SUDO[@]}" nvpmodel -m "$ORIG_MODE_ID" || es_log "could not restore power mode $ORIG_MODE_ID"
    fi
    return "$rc"
}
trap restore EXIT
trap 'exit 130' INT TERM

# 2. Power mode.
if [[ -n "$POWER_MODE" && "$POWER_MODE" != "$MODE_ID" ]]; then
    es_run "${SUDO[@]}" nvpmodel -m "$POWER_MODE"
    MODE_ID=$POWER_MODE  # from here on, restore() puts the original mode back
    if [[ "$ES_DRY_RUN" == 1 ]]; then
        MODE_NAME=unknown  # the new mode's name is known only after nvpmodel -m ran
    else
        MODE_NAME=$(nvpmodel -q 2>/dev/null | sed -n 's/^NV Power Mode: *//p' | head -n 1 || true)
    fi
    printf '# power mode now: %s (%s)\n' "$MODE_ID" "$MODE_NAME"
fi

# 3. Clocks.
if [[ "$MAX_CLOCKS" == 1 ]]; then
    CLOCKS_FILE="${TMPDIR:-/tmp}/edgeseg-jetson-clocks.$$"
    es_run "${SUDO[@]}" jetson_clocks --store "$CLOCKS_FILE"
    es_run "${SUDO[@]}" jetson_clocks
fi

# 4. Benchmark.
SAFE_MODE_NAME=$(printf '%s' "${MODE_NAME:-unknown}" | tr -c 'A-Za-z0-9_.\n' '-' | tr -d '\n')
CLOCK_TAG=""
if [[ "$MAX_CLOCKS" == 1 ]]; then CLOCK_TAG="-maxclocks"; fi
if [[ "$DOCTOR" == 1 ]]; then
    OUT=${OUT:-"$RESULTS_DIR/$SLUG-mode$MODE_ID-$SAFE_MODE_NAME$CLOCK_TAG-doctor"}
    # The doctor exits 1 when a stage failed and 2 without a GPU; its reports are written either way.
    rc=0
    es_run "$EDGESEG" doctor --gpu --bundle "$BUNDLE" --out "$OUT" --budget-s "$BUDGET_S" --power "$POWER" \
        "${EXTRA[@]}" || rc=$?
    if [[ "$ES_DRY_RUN" == 1 ]]; then
        echo "# dry run: nothing was executed; the doctor's reports would be $OUT/doctor.json and doctor.md"
    else
        es_log "doctor reports: $OUT/doctor.md (exit $rc)"
    fi
    exit "$rc"
fi
OUT=${OUT:-"$RESULTS_DIR/$SLUG-mode$MODE_ID-$SAFE_MODE_NAME$CLOCK_TAG.json"}
es_run mkdir -p "$(dirname "$OUT")"
args=("$EDGESEG" bench)
for e in "${ENGINES[@]}"; do args+=(--engine "$e"); done
if [[ ${#IMAGE_SIZE[@]} -gt 0 ]]; then
    args+=(--image-size "${IMAGE_SIZE[@]}")  # per-image columns beside the per-call figure
    if [[ -n "$NATIVE_MODE" ]]; then args+=("$NATIVE_MODE"); fi
fi
args+=(--power "$POWER" --out "$OUT")
es_run "${args[@]}" "${EXTRA[@]}"

if [[ "$ES_DRY_RUN" == 1 ]]; then
    echo "# dry run: nothing was executed; results would be $OUT (restore steps, if any, follow)"
else
    es_log "results: $OUT"
fi
