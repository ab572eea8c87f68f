"""Results as a table (Ultralytics-benchmark style): format, precision, size, Dice, ms/image, images/s."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

COLUMNS = ("Model", "Format", "Precision", "Device", "Threads", "Batch", "Size (MB)", "Dice",
           "ms/img p50", "ms/img p99", "img/s", "Peak mem (MB)", "mJ/img")
# With per-image figures at native size (bench --image-size / --tile / --resize): the per-call columns above
# are per network input (one tile), these are per whole image.
NATIVE_COLUMNS = ("Image", "Inference", "ms/full img", "full img/s", "data ms/img")


def _fmt(v: Any, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def has_native(results: Sequence[dict[str, Any]]) -> bool:
    return any(r.get("images_per_s") is not None or r.get("data_ms_per_image") is not None for r in results)


def rows(results: Sequence[dict[str, Any]], native: bool = False) -> list[list[str]]:
    out = []
    for r in results:
        lat = r.get("latency_ms") or {}
        b = r.get("batch") or 1
        p50 = lat.get("p50") / b if lat.get("p50") is not None else None  # per image
        p99 = lat.get("p99") / b if lat.get("p99") is not None else None
        out.append([str(r["model"]), str(r["backend"]), str(r["precision"]), str(r["device"]),
                    _fmt(r.get("threads"), "d"), _fmt(b, "d"), _fmt(r.get("size_mb"), ".2f"),
                    _fmt(r.get("dice"), ".4f"), _fmt(p50, ".2f"), _fmt(p99, ".2f"),
                    _fmt(r.get("throughput_ips"), ".1f"), _fmt(r.get("peak_mem_mb"), ".0f"),
                    _fmt(r.get("energy_mj_per_image"), ".1f")])
        if native:
            size = "x".join(map(str, r["image_size"])) if r.get("image_size") else "-"
            out[-1] += [size, str(r.get("inference") or r.get("data_inference") or "-"),
                        _fmt((r.get("image_ms") or {}).get("mean"), ".1f"), _fmt(r.get("images_per_s"), ".2f"),
                        _fmt(r.get("data_ms_per_image"), ".1f")]
    return out


def format_table(results: Sequence[dict[str, Any]], markdown: bool = True) -> str:
    """Markdown table (also readable as plain text on a terminal)."""
    native = has_native(results)
    cols = COLUMNS + NATIVE_COLUMNS if native else COLUMNS
    body = rows(results, native)
    widths = [max(len(c), *(len(r[i]) for r in body)) if body else len(c) for i, c in enumerate(cols)]
    numeric = set(range(4, len(COLUMNS))) | set(range(len(COLUMNS) + 2, len(cols)))

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.rjust(w) if i in numeric else c.ljust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths, strict=True))) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if i in numeric else ("-" * (w + 2))
                         for i, w in enumerate(widths)) + "|"
    return "\n".join([line(cols), sep, *(line(r) for r in body)])


def format_report(doc: dict[str, Any], ratios: bool = False) -> str:
    """What `edgeseg bench` and `edgeseg demo` print: the table, then skipped rows (backend absent here) and
    FAILED rows (a step or worker that failed, with the reason), then the target ratios when asked."""
    lines = [format_table(doc["results"])]
    lines += [f"skipped: {s['model']} {s['backend']} {s['precision']}: {s['reason']}" for s in doc.get("skipped", [])]
    lines += [f"FAILED: {f['model']} {f['backend']} {f['precision']}: {f['reason']}" for f in doc.get("failed", [])]
    if ratios:
        from edgeseg.bench.ratios import format_ratios

        got = doc.get("ratios")
        lines += ["", format_ratios(got) if got else "ratios: no matching pairs in these results"]
    return "\n".join(lines)
