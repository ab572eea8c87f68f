# shellcheck shell=bash
# Shared helpers for deploy/jetson/*.sh (sourced, not run).
#
# Detection reads the system itself; for dry-run plans on a workstation (and CI) each result can be
# overridden: EDGESEG_JETSON_MODEL, EDGESEG_JETSON_MEM_GB, EDGESEG_L4T, EDGESEG_JETPACK,
# EDGESEG_TRT_VERSION, EDGESEG_CUDA_VERSION. Overrides change what is printed and how files are named;
# they never make a non-Jetson machine pass the "is this a Jetson" gate of a real (non --dry-run) run.

ES_DRY_RUN=${ES_DRY_RUN:-0}
ES_PROG=${ES_PROG:-$(basename "$0")}

es_log() { printf '%s: %s\n' "$ES_PROG" "$*" >&2; }
es_die() { printf '%s: error: %s\n' "$ES_PROG" "$*" >&2; exit 2; }

# Print a command shell-quoted, one line, prefixed "+ ".
es_show() {
    local out="+" arg
    for arg in "$@"; do out+=" $(printf '%q' "$arg")"; done
    printf '%s\n' "$out"
}

# Run a command, or only print it under --dry-run. Always prints it, so logs show what changed.
es_run() {
    es_show "$@"
    if [[ "$ES_DRY_RUN" == 1 ]]; then return 0; fi
    "$@"
}

# sudo prefix for commands that change the device (nvpmodel, jetson_clocks); empty when already root.
es_sudo() {
    if [[ "$(id -u)" == 0 ]]; then printf ''; else printf 'sudo'; fi
}

ES_TEGRA_RELEASE=${ES_TEGRA_RELEASE:-/etc/nv_tegra_release}
ES_DT_MODEL=${ES_DT_MODEL:-/proc/device-tree/model}

# The device-tree model string, e.g. "NVIDIA Jetson Orin Nano Engineering Reference Developer Kit".
es_model() {
    if [[ -n "${EDGESEG_JETSON_MODEL:-}" ]]; then printf '%s\n' "$EDGESEG_JETSON_MODEL"; return; fi
    if [[ -r "$ES_DT_MODEL" ]]; then tr -d '\0' <"$ES_DT_MODEL"; echo; return; fi
    echo "unknown"
}

# L4T release, e.g. "R36.3.0", from /etc/nv_tegra_release ("# R36 (release), REVISION: 3.0, ...") or dpkg.
es_l4t() {
    if [[ -n "${EDGESEG_L4T:-}" ]]; then printf '%s\n' "$EDGESEG_L4T"; return; fi
    if [[ -r "$ES_TEGRA_RELEASE" ]]; then
        sed -n 's/^# R\([0-9]*\) (release), REVISION: \([0-9.]*\).*/R\1.\2/p' "$ES_TEGRA_RELEASE" | head -n 1
        return
    fi
    local v
    v=$(dpkg-query -W -f='${Version}' nvidia-l4t-core 2>/dev/null || true)
    if [[ -n "$v" ]]; then printf 'R%s\n' "${v%%-*}"; else echo "unknown"; fi
}

es_jetpack() {
    if [[ -n "${EDGESEG_JETPACK:-}" ]]; then printf '%s\n' "$EDGESEG_JETPACK"; return; fi
    local v
    v=$(dpkg-query -W -f='${Version}' nvidia-jetpack 2>/dev/null || true)
    if [[ -n "$v" ]]; then printf '%s\n' "${v%%-*}"; else echo "unknown"; fi
}

# System TensorRT, e.g. "10.3.0.30" (JetPack 6.1/6.2) or "8.5.2.2" (JetPack 5.1).
es_trt_version() {
    if [[ -n "${EDGESEG_TRT_VERSION:-}" ]]; then printf '%s\n' "$EDGESEG_TRT_VERSION"; return; fi
    local pkg v
    for pkg in tensorrt libnvinfer10 libnvinfer8; do
        v=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true)
        if [[ -n "$v" ]]; then printf '%s\n' "${v%%-*}"; return; fi
    done
    echo "unknown"
}

es_cuda_version() {
    if [[ -n "${EDGESEG_CUDA_VERSION:-}" ]]; then printf '%s\n' "$EDGESEG_CUDA_VERSION"; return; fi
    local f=/usr/local/cuda/version.json v=""
    if [[ -r "$f" ]]; then
        # "cuda" : { "name" : "CUDA SDK", "version" : "12.6.68" } -- the first "version" is the SDK's.
        v=$(grep -o '"version" *: *"[0-9.]*"' "$f" | head -n 1 | grep -o '[0-9][0-9.]*' || true)
    fi
    if [[ -z "$v" && -x /usr/local/cuda/bin/nvcc ]]; then
        v=$(/usr/local/cuda/bin/nvcc --version | sed -n 's/.*release \([0-9.]*\),.*/\1/p' || true)
    fi
    printf '%s\n' "${v:-unknown}"
}

# Memory in GB rounded up to the module size (4, 8, 16, 32, 64): MemTotal is less than the module's RAM.
es_mem_gb() {
    if [[ -n "${EDGESEG_JETSON_MEM_GB:-}" ]]; then printf '%s\n' "$EDGESEG_JETSON_MEM_GB"; return; fi
    local kb size
    kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null || echo 0)
    for size in 2 4 8 16 32 64 128; do
        if (( kb <= size * 1024 * 1024 )); then echo "$size"; return; fi
    done
    echo "$(( kb / 1024 / 1024 ))"
}

# "NVIDIA Jetson Orin Nano Engineering Reference Developer Kit" + 8 GB -> "jetson-orin-nano-8gb".
es_module_slug() {
    local model slug
    model=$(es_model)
    slug=$(printf '%s' "$model" | tr '[:upper:]' '[:lower:]' \
        | sed -e 's/nvidia//g' -e 's/engineering reference//g' -e 's/developer kit//g' -e 's/ super//g' \
              -e 's/[^a-z0-9]\{1,\}/-/g' -e 's/^-//' -e 's/-$//')
    [[ -n "$slug" ]] || slug=unknown
    [[ "$slug" == jetson* ]] || slug="jetson-$slug"
    printf '%s-%sgb\n' "$slug" "$(es_mem_gb)"
}

# Is this machine a Jetson? Reads only the real system (no overrides). Sets ES_NOT_JETSON_REASON.
es_is_jetson() {
    local dt="absent"
    if [[ -r "$ES_DT_MODEL" ]]; then dt=$(tr -d '\0' <"$ES_DT_MODEL"); fi
    if [[ -r "$ES_TEGRA_RELEASE" ]] || [[ "$dt" == *Jetson* ]]; then return 0; fi
    ES_NOT_JETSON_REASON="not a Jetson: no $ES_TEGRA_RELEASE, device-tree model '$dt', no nvidia-l4t-core package"
    if dpkg-query -W nvidia-l4t-core >/dev/null 2>&1; then return 0; fi
    return 1
}

# Print the detection block; on a non-Jetson refuse (one line on stderr, exit 2) before printing anything,
# or under --dry-run say that it would refuse and go on.
es_detect_report() {
    local refuse=""
    if ! es_is_jetson; then
        if [[ "$ES_DRY_RUN" != 1 ]]; then
            es_die "$ES_NOT_JETSON_REASON; run this on the Jetson, or add --dry-run to see the plan"
        fi
        refuse="# $ES_NOT_JETSON_REASON: would refuse without --dry-run"
    fi
    printf '# module:   %s (%s)\n' "$(es_model)" "$(es_module_slug)"
    printf '# L4T:      %s   JetPack: %s\n' "$(es_l4t)" "$(es_jetpack)"
    printf '# TensorRT: %s   CUDA: %s\n' "$(es_trt_version)" "$(es_cuda_version)"
    if [[ -n "$refuse" ]]; then printf '%s\n' "$refuse"; fi
}
