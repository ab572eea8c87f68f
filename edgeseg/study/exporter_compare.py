"""Issue 21: the torch.export-based ONNX exporter (`dynamo=True`) against today's TorchScript-based one.

For every registered network and every distinct export-rewrite variant (the export default, none, and each
alternative `edgeseg.rewrites` offers; variants that change nothing in a network are folded into the first
equal one), random weights (seed 0), batch 1, each network's default channels:

* graphs, each through the export pipeline (`export_onnx`: fold, rewrites, export, onnxsim):
  "torchscript-17" (today's graph, the baseline of every ratio), "dynamo-17" (same opset: the dynamo exporter
  builds at 18 and converts down; recorded as failed where the onnx version converter cannot), "dynamo-18" (its
  own opset, no conversion), and "torchscript-18" where dynamo-17 failed, so a same-opset pair exists;
* per graph: max |ORT - PyTorch| on a seeded input (and the export check's tolerance), node count and op
  histogram, ONNX Runtime's optimized node and NCHWc-reorder counts, file size, export wall time (the whole
  pipeline, on a machine that is not held quiet), the exporter's warnings;
* ORT CPU latency of all graphs of a (network, variant), interleaved in one process (`time_interleaved`), on a
  quiet machine when `--quiet-file` names the shared lock: wait until it is gone, create it, time, remove it.

Writes OUT_DIR/STEM.json and .md (default exporter-compare; the command in both); the ONNX files live in a
temporary folder.

    python benchmarks/exporter_compare.py --quiet-file /work/QUIET       # the survey (~15 min, 7 min timing)
    python benchmarks/exporter_compare.py --quiet-file /work/QUIET --models tinyunet gpunet --rounds 10 \
        --iters 10 --stem exporter-retime                                 # the rows the survey left in doubt
    python benchmarks/exporter_compare.py --models tinyunet --size 64 64 --rounds 1 --iters 1 --out-dir /tmp/x
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from edgeseg.errors import EdgesegError

SCHEMA = "edgeseg-exporter-compare/1"
BASELINE = "torchscript-17"
RATIO_MAX = 1.03  # "no slower": dynamo p50 / today's p50 at most this (interleaved; round ratios reported)
THREADS = 2


def variants() -> dict[str, str]:
    """{variant label: --rewrites spec}: the default, none, each other bicubic form, each rewrite off the default."""
    from edgeseg.rewrites import BICUBIC_FORMS, DEFAULT_BICUBIC_FORM, DEFAULT_REWRITES, REWRITES

    out = {"default": "default", "none": "none"}
    rest = [r for r in DEFAULT_REWRITES if r != "bicubic"]
    for form in BICUBIC_FORMS:
        if form != DEFAULT_BICUBIC_FORM:
            out[f"bicubic={form}"] = ",".join([f"bicubic={form}", *rest])
    for extra in REWRITES:
        if extra not in DEFAULT_REWRITES:
            out[extra] = ",".join([*DEFAULT_REWRITES, extra])
    return out


def distinct_variants(name: str) -> tuple[dict[str, str], dict[str, str]]:
    """({variant: spec} that give distinct graphs of `name`, {folded variant: the variant it equals})."""
    import json

    from edgeseg.export import planned_rewrites

    keep, same, seen = {}, {}, {}
    for label, spec in variants().items():
        key = json.dumps(planned_rewrites(name, spec), sort_keys=True)
        if key in seen:
            same[label] = seen[key]
        else:
            seen[key], keep[label] = label, spec
    return keep, same


def _first_line(e: BaseException) -> str:
    return f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0][:600]}"


def measure_graph(name: str, label: str, spec: str, exporter: str, opset: int, size: tuple[int, int],
                  folder: Path, reference: Any, x: Any) -> dict[str, Any]:
    """Export one graph and measure it (module doc); {"ok": False, "error"} when the export fails."""
    import onnx

    from edgeseg.artifacts import read_sidecar
    from edgeseg.export import export_onnx, ort_check
    from edgeseg.rewrites import reorder_report

    out = folder / f"{name}-{label.replace('=', '-')}-{exporter}-{opset}.onnx"
    t = time.perf_counter()
    try:
        path = export_onnx(name, out, size=size, opset=opset, check=False, rewrites=spec, exporter=exporter)
    except Exception as e:  # noqa: BLE001 - a failed export is a measurement: recorded, not raised
        return {"ok": False, "error": _first_line(e).replace(str(out), out.name), "export_s": time.perf_counter() - t}
    wall = time.perf_counter() - t
    side = read_sidecar(path) or {}
    graph = onnx.load(str(path)).graph
    check = ort_check(path, reference, x)
    opt = reorder_report(path, threads=THREADS)
    return {"ok": True, "path": str(path), "export_s": wall, "nodes": len(graph.node),
            "ops": dict(sorted(Counter(n.op_type for n in graph.node).items())),
            "initializers": len(graph.initializer), "file_bytes": path.stat().st_size,
            "ort_nodes": sum(opt["ops"].values()), "ort_reorders": opt["reorders"],
            "max_abs_diff": check["max_abs_diff"], "tolerance": check["tolerance"], "equal": bool(check["ok"]),
            "rewrites": side.get("rewrites"), "simplified": side.get("simplified"),
            "warnings": side.get("exporter_warnings", [])}


def measure_network(name: str, size: tuple[int, int], folder: Path) -> list[dict[str, Any]]:
    """One row per distinct rewrite variant of `name`, each with its graphs ("graphs": {label: measures})."""
    from edgeseg.bench.timing import make_input
    from edgeseg.export import reference_model
    from edgeseg.models import get_model_info

    channels = get_model_info(name).reference_input[0]
    reference = reference_model(name)
    x = make_input((1, channels, *size), seed=0)
    keep, same = distinct_variants(name)
    rows = []
    for label, spec in keep.items():
        graphs: dict[str, dict[str, Any]] = {}
        for exporter, opset in (("torchscript", 17), ("dynamo", 17), ("dynamo", 18)):
            graphs[f"{exporter}-{opset}"] = measure_graph(name, label, spec, exporter, opset, size, folder,
                                                          reference, x)
        if not graphs["dynamo-17"]["ok"]:
            graphs["torchscript-18"] = measure_graph(name, label, spec, "torchscript", 18, size, folder,
                                                      reference, x)
        print(f"exporter_compare: {name} {label}: " + ", ".join(
            f"{g} {'ok' if m['ok'] else 'failed'} {m['export_s']:.1f}s" for g, m in graphs.items()), file=sys.stderr)
        rows.append({"network": name, "variant": label, "spec": spec, "channels": channels,
                     "same_as_this": sorted(v for v, k in same.items() if k == label), "graphs": graphs})
    return rows


# ------------------------------------------------------------------------------------------ timing

def wait_quiet(path: Path | None, poll_s: float = 30.0) -> None:
    while path is not None and path.exists():
        time.sleep(poll_s)


@contextlib.contextmanager
def holding_quiet(path: Path | None, poll_s: float = 30.0) -> Iterator[None]:
    """Wait until the shared benchmark lock `path` is gone, create it (O_EXCL: one holder), remove it on exit
    (SIGTERM/SIGINT included). None: no lock."""
    if path is None:
        yield
        return
    while True:
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            break
        except FileExistsError:
            time.sleep(poll_s)
    old = {s: signal.signal(s, lambda n, f: sys.exit(128 + n)) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        for s, h in old.items():
            signal.signal(s, h)


def time_row(row: dict[str, Any], size: tuple[int, int], rounds: int, iters: int, warmup: int) -> None:
    """Time every exported graph of `row` interleaved; adds row["timing"] (p50s, ratios vs today's graph)."""
    from edgeseg.bench.timing import time_interleaved
    from edgeseg.runtime.ort_runner import OnnxRuntimeRunner

    ok = {g: m for g, m in row["graphs"].items() if m["ok"]}
    runners = {g: OnnxRuntimeRunner(m["path"], threads=THREADS) for g, m in ok.items()}
    for r in runners.values():
        r.activate()
    try:
        res = time_interleaved(runners, {g: (1, row["channels"], *size) for g in runners}, rounds, iters, warmup)
    finally:
        for r in runners.values():
            r.deactivate()
    base = res[BASELINE]
    row["timing"] = {g: {"p50_ms": r["latency_ms"]["p50"], "p90_ms": r["latency_ms"]["p90"],
                         "round_p50_ms": r["round_p50_ms"], "iters": r["iters"],
                         "ratio": r["latency_ms"]["p50"] / base["latency_ms"]["p50"],
                         "round_ratios": [a / b for a, b in zip(r["round_p50_ms"], base["round_p50_ms"], strict=True)]}
                     for g, r in res.items()}
    if "torchscript-18" in res:  # the same-opset ratio where dynamo-17 could not be written
        row["timing"]["dynamo-18"]["ratio_same_opset"] = (res["dynamo-18"]["latency_ms"]["p50"]
                                                          / res["torchscript-18"]["latency_ms"]["p50"])


# ------------------------------------------------------------------------------------------ verdicts

def verdicts(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """{network: {"dynamo-17"|"dynamo-18": {"pass", "reasons"}}}: equal to PyTorch within the export check's
    tolerance and p50 ratio <= RATIO_MAX against today's graph, on every rewrite variant."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        for g in ("dynamo-17", "dynamo-18"):
            v = out.setdefault(row["network"], {}).setdefault(g, {"pass": True, "reasons": []})
            m, t = row["graphs"][g], (row.get("timing") or {}).get(g)
            why = None
            if not m["ok"]:
                why = f"export failed ({m['error']})"
            elif not m["equal"]:
                why = f"max |diff| {m['max_abs_diff']:.2e} > tolerance {m['tolerance']:.2e}"
            elif t is None:
                why = "not timed"
            elif t["ratio"] > RATIO_MAX:
                why = f"p50 ratio {t['ratio']:.3f} > {RATIO_MAX}"
            if why:
                v["pass"] = False
                v["reasons"].append(f"{row['variant']}: {why}")
    return out


def run(models: list[str], size: tuple[int, int], rounds: int, iters: int, warmup: int, quiet: Path | None,
        folder: Path, command: str) -> dict[str, Any]:
    from edgeseg.bench.machine import capture_env, isa_class

    rows: list[dict[str, Any]] = []
    wait_quiet(quiet)  # exports are CPU-heavy too: not while another benchmark holds the machine
    for name in models:
        rows += measure_network(name, size, folder)
    with holding_quiet(quiet):
        t0 = time.perf_counter()
        for row in rows:
            time_row(row, size, rounds, iters, warmup)
            print(f"exporter_compare: timed {row['network']} {row['variant']}: " + ", ".join(
                f"{g} {t['p50_ms']:.1f} ms ({t['ratio']:.3f})" for g, t in row["timing"].items()), file=sys.stderr)
        timing_s = time.perf_counter() - t0
    for row in rows:
        for m in row["graphs"].values():
            m.pop("path", None)  # temporary files
    env = capture_env(threads=[THREADS])
    return {"schema": SCHEMA, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": command, "env": env, "isa_class": isa_class(env["cpu"].get("flags")),
            "settings": {"size": list(size), "batch": 1, "threads": THREADS, "rounds": rounds, "iters": iters,
                         "warmup": warmup, "ratio_max": RATIO_MAX, "baseline": BASELINE, "weights": "random-init",
                         "dynamo_default_opset": _dynamo_default_opset(), "timing_s": timing_s,
                         "quiet_lock": str(quiet) if quiet else None},
            "rows": rows, "verdicts": verdicts(rows)}


def _dynamo_default_opset() -> dict[str, int | None]:
    """What torch.onnx.export(dynamo=True) uses when no opset is given, and the opset its torchlib is written in."""
    try:
        from torch.onnx import _constants
        from torch.onnx._internal.exporter import _constants as exporter_constants
    except ImportError:  # private modules: their layout may change
        return {"default": None, "torchlib": None}
    return {"default": getattr(_constants, "ONNX_DEFAULT_OPSET", None),
            "torchlib": getattr(exporter_constants, "TORCHLIB_OPSET", None)}


def main(argv: list[str] | None = None) -> int:
    from edgeseg.artifacts import write_bytes_atomic, write_json_atomic
    from edgeseg.models import list_models
    from edgeseg.study.exporter_report import markdown

    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--models", nargs="+", default=list_models(), choices=list_models())
    ap.add_argument("--size", type=int, nargs=2, default=[256, 256], metavar=("H", "W"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=4, help="timed iterations per graph per round")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--quiet-file", type=Path, help="shared benchmark lock: wait while it exists, hold it to time")
    ap.add_argument("--out-dir", type=Path, default=Path("benchmarks/results/exporter"))
    ap.add_argument("--stem", default="exporter-compare", help="output file name without .json/.md")
    args = ap.parse_args(argv)
    command = shlex.join(["python", "benchmarks/exporter_compare.py", *(sys.argv[1:] if argv is None else argv)])
    try:
        with tempfile.TemporaryDirectory(prefix="exporter-compare-") as td:
            doc = run(args.models, (args.size[0], args.size[1]), args.rounds, args.iters, args.warmup,
                      args.quiet_file, Path(td), command)
    except EdgesegError as e:
        print(f"exporter_compare: {e}", file=sys.stderr)
        return 2
    out = args.out_dir / f"{args.stem}.json"
    write_json_atomic(out, doc)
    write_bytes_atomic(out.with_suffix(".md"), markdown(doc).encode())
    print(f"wrote {out} and {out.with_suffix('.md')}", file=sys.stderr)
    return 0
