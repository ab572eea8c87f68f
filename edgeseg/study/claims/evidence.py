"""Read committed results (no re-measurement): models table, bench results, training results.

Tolerant by design: unknown or malformed files are listed as ignored (with the reason) rather than
failing the report, because results folders collect sidecars and partial runs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeseg.names import FULL_LEVEL, UNETSHARP, level_name

_LEVEL = re.compile(r"^(?:unetsharp|unet#|unet-sharp|unet_sharp)[^0-9]*?(?:l|level)[=_\- ]?([1-4])$")


def norm_model(name: Any) -> str:
    """Canonical model name: lower case, '_' -> '-', UNet# levels as 'unetsharp-l<k>'."""
    s = str(name).strip().lower().replace("_", "-")
    m = _LEVEL.match(s)
    if m:
        return level_name(int(m.group(1)))
    return {"unet#": UNETSHARP, "unet-sharp": UNETSHARP}.get(s, s)


# Names a claim's model may appear under (UNet#'s default registry config is level 4).
ALIASES = {level_name(FULL_LEVEL): (level_name(FULL_LEVEL), UNETSHARP), UNETSHARP: (UNETSHARP, level_name(FULL_LEVEL))}


def aliases(name: str) -> tuple[str, ...]:
    return ALIASES.get(name, (name,))


@dataclass
class Evidence:
    results_dir: Path
    models: list[dict[str, Any]] = field(default_factory=list)   # rows of `edgeseg models --json`
    bench: list[dict[str, Any]] = field(default_factory=list)    # result rows of edgeseg-bench/1 files
    skipped: list[dict[str, Any]] = field(default_factory=list)  # bench configs not run, with the reason
    train: list[dict[str, Any]] = field(default_factory=list)    # edgeseg-train/1 documents
    native: list[dict[str, Any]] = field(default_factory=list)   # measured rows of edgeseg-native-table/1 files
    used: list[str] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)

    def model_rows(self, name: str) -> list[dict[str, Any]]:
        for alias in aliases(name):
            rows = [r for r in self.models if r["name"] == alias]
            if rows:
                return rows
        return []


def _is_models_table(data: Any) -> list[dict[str, Any]] | None:
    rows = data.get("models") if isinstance(data, dict) else data
    if isinstance(rows, list) and rows and all(isinstance(r, dict) and "name" in r and "params" in r for r in rows):
        return rows
    return None


def load_evidence(results_dir: str | Path) -> Evidence:
    """Every *.json directly under results_dir, sorted by name, classified by content."""
    root = Path(results_dir)
    ev = Evidence(results_dir=root)
    if not root.is_dir():
        return ev
    for path in sorted(root.glob("*.json")):
        shown = path.as_posix()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            ev.ignored.append((shown, f"unreadable JSON ({type(e).__name__})"))
            continue
        schema = str(data.get("schema", "")) if isinstance(data, dict) else ""
        rows = _is_models_table(data)
        if rows is not None:
            for r in rows:
                ev.models.append({**r, "name": norm_model(r["name"]), "_file": shown})
            ev.used.append(shown)
        elif schema.startswith("edgeseg-bench/") and isinstance(data.get("results"), list):
            for r in data["results"]:
                if isinstance(r, dict) and "model" in r:
                    ev.bench.append({**r, "model": norm_model(r["model"]), "_file": shown,
                                     "_env": data.get("env") or {}})
            for r in data.get("skipped") or []:
                if isinstance(r, dict) and "model" in r:
                    ev.skipped.append({**r, "model": norm_model(r["model"]), "_file": shown})
            ev.used.append(shown)
        elif schema.startswith("edgeseg-train/") and isinstance(data.get("runs"), list):
            runs = [{**r, "model": norm_model(r["model"])}
                    for r in data["runs"] if isinstance(r, dict) and "model" in r]
            ev.train.append({**data, "runs": runs, "_file": shown})
            ev.used.append(shown)
        elif schema.startswith("edgeseg-native-table/") and isinstance(data.get("rows"), list):
            # per full image at native size (benchmarks/native_table.py): beside the per-input speed rows
            for r in data["rows"]:
                if isinstance(r, dict) and r.get("status") == "measured" and "model" in r:
                    ev.native.append({**r, "model": norm_model(r["model"]), "_file": shown,
                                      "_dataset": data.get("dataset"), "_threads": data.get("threads")})
            ev.used.append(shown)
        else:
            ev.ignored.append((shown, "not a models table, edgeseg-bench/1, edgeseg-train/1 or "
                                      f"edgeseg-native-table/1 file (schema {schema!r})"))
    return ev
