"""Calibration sets: a JSON manifest (`calib/NAME.json`) of chosen images + their sha256, the
preprocessing and the seed, so INT8 calibration is reproducible and a changed image is detected.

A set names images, not tensors: the quantizer preprocesses them as the model being quantized records
(size, channels, normalisation), so one set serves every model of a data set; the recorded preprocessing
is the default for a model that records none.

Selection is deterministic and covers the data: images are sorted by the foreground fraction of their mask
and split into `n` equal strata; the seeded RNG picks one image per stratum (random if no masks).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.artifacts import check_output_path, read_sidecar, sha256_file, write_json_atomic
from edgeseg.data.dataset import IMAGE_EXTS, Sample, read_image, read_pair
from edgeseg.data.preprocess import Preprocess, given_preprocess
from edgeseg.errors import EdgesegError

SCHEMA = "edgeseg-calib/1"


def calib_dir() -> Path:
    """Where named calibration sets live (`calib/` in the repo; override with EDGESEG_CALIB_DIR)."""
    return Path(os.environ.get("EDGESEG_CALIB_DIR", "calib"))


def _list_pairs(data: Path) -> list[tuple[Path, Path | None]]:
    img_dir = data / "images" if (data / "images").is_dir() else data
    mask_dir = data / "masks" if (data / "masks").is_dir() else None
    images = sorted(p for p in img_dir.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file())
    masks: dict[str, Path] = {}
    if mask_dir is not None:
        masks = {p.stem: p for p in sorted(mask_dir.iterdir()) if p.suffix.lower() in IMAGE_EXTS}
    return [(p, masks.get(p.stem)) for p in images]


def _select(fg: list[float | None], n: int, seed: int) -> list[int]:
    """Indices of `n` items: one per foreground-fraction stratum (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    if any(f is None for f in fg):
        return sorted(rng.choice(len(fg), size=n, replace=False).tolist())
    order = sorted(range(len(fg)), key=lambda i: (fg[i], i))
    strata = np.array_split(np.asarray(order), n)
    return sorted(int(rng.choice(s)) for s in strata)


def resolve_manifest_path(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.suffix == ".json" or p.is_file() or os.sep in str(name_or_path):
        return p
    return calib_dir() / f"{name_or_path}.json"


def make_calib(data: str | Path, n: int = 128, name: str | None = None, out: str | Path | None = None,
               size: tuple[int, int] | None = None, channels: int | None = None,
               checkpoint: str | Path | None = None, seed: int = 0, split: str | None = "train") -> Path:
    """Choose `n` images from `data` (DIR with images/ [+ masks/]); write the manifest atomically.

    With a checkpoint that records its train/val/test split, only images of `split` (default: the training
    split) are candidates, so calibration never sees the images the artifacts are later scored on.
    """
    data = Path(data)
    if not data.is_dir():
        raise EdgesegError(f"{data}: no such data directory; pass --data DIR with images/ and masks/")
    if out is None:
        if not name:
            raise EdgesegError("calib make needs --name NAME (written to calib/NAME.json) or an output path")
        out = calib_dir() / f"{name}.json"
    out = Path(out)
    check_output_path(out)
    pairs = _list_pairs(data)
    payload, where = None, ""
    if checkpoint is not None:
        from edgeseg.checkpoint import read_checkpoint

        payload = read_checkpoint(checkpoint)
        stems = (payload.get("split") or {}).get(split) if split else None
        if stems is not None:
            wanted = set(stems)
            pairs = [pr for pr in pairs if pr[0].stem in wanted]
            where = f" in the checkpoint's {split} split"
    if n < 1:
        raise EdgesegError(f"--n must be >= 1, got {n}")
    if len(pairs) < n:
        raise EdgesegError(f"{data}: only {len(pairs)} images{where}, {n} asked for the calibration set; "
                           f"pass a smaller --n or more data")
    if payload is not None:
        if not payload.get("preprocess"):
            raise EdgesegError(f"{checkpoint}: checkpoint has no preprocessing recorded; pass --size/--channels")
        pre = Preprocess.from_dict(payload["preprocess"])
        source = {"checkpoint": str(checkpoint), "checkpoint_sha256": sha256_file(checkpoint),
                  "split": split if (payload.get("split") or {}).get(split or "") is not None else None}
    else:
        first = read_image(pairs[0][0])
        c = channels or (1 if first.ndim == 2 else min(first.shape[-1], 3))
        h, w = size or (256, 256)
        pre = Preprocess(int(h), int(w), int(c))
        source = {"checkpoint": None}
    fg: list[float | None] = []
    for img, m in pairs:  # every pair read (a set that cannot be read fails here, not inside calibration)
        mask = read_pair(Sample(img.stem, img, m))[1]
        fg.append(None if mask is None else float((mask > 0).mean()))
    chosen = _select(fg, n, seed)
    root_rel = os.path.relpath(data.resolve(), out.resolve().parent)
    images = [{"path": os.path.relpath(pairs[i][0].resolve(), data.resolve()), "sha256": sha256_file(pairs[i][0]),
               "foreground": fg[i]} for i in chosen]
    manifest = {"schema": SCHEMA, "name": name or out.stem, "data_root": root_rel,
                "data_root_abs": str(data.resolve()), "n": n, "seed": seed,
                "selection": "stratified-by-foreground" if fg and fg[0] is not None else "random (no masks)",
                "available": len(pairs), "preprocess": pre.to_dict(), **source, "images": images}
    write_json_atomic(out, manifest)
    return out


def load_calib(name_or_path: str | Path, verify: bool = True) -> dict[str, Any]:
    """Read a manifest (name under calib/ or path); with `verify`, every image must exist with its sha256."""
    path = resolve_manifest_path(name_or_path)
    if not path.is_file():
        raise EdgesegError(f"{path}: no such calibration set; make it with edgeseg calib make --name NAME")
    try:
        m = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise EdgesegError(f"{path}: not a JSON calibration manifest; remake it with edgeseg calib make") from None
    if not isinstance(m, dict) or m.get("schema") != SCHEMA:
        raise EdgesegError(f"{path}: not an edgeseg calibration manifest ({SCHEMA}); remake it")
    if not (isinstance(m.get("data_root"), str) and isinstance(m.get("preprocess"), dict)
            and isinstance(m.get("images"), list) and m["images"]
            and all(isinstance(i, dict) and isinstance(i.get("path"), str) and isinstance(i.get("sha256"), str)
                    for i in m["images"])):
        raise EdgesegError(f"{path}: damaged calibration manifest (data_root, preprocess or images missing); "
                           f"remake it with edgeseg calib make")
    root = Path(m["data_root"])
    if not root.is_absolute():
        root = Path(os.path.normpath(path.resolve().parent / root))
    if not root.is_dir() and Path(m.get("data_root_abs", "")).is_dir():
        root = Path(m["data_root_abs"])
    m["root"] = str(root)
    m["manifest_path"] = str(path)
    m["manifest_sha256"] = sha256_file(path)
    if verify:
        for item in m["images"]:
            f = root / item["path"]
            if not f.is_file():
                raise EdgesegError(f"{f}: listed in calibration set {path} but missing; remake the set")
            if sha256_file(f) != item["sha256"]:
                raise EdgesegError(f"{f}: changed since calibration set {path} was made (sha256 mismatch); "
                                   f"remake the set with edgeseg calib make")
    return m


def model_preprocess(src: Path, shape: list[int | None], manifest: dict[str, Any],
                     given: dict[str, Any] | None = None) -> Preprocess:
    """How the ONNX model `src` (input N x C x H x W `shape`, None where dynamic) takes a set's images:
    channels, normalisation and mask mapping from its sidecar (the checkpoint's, carried by export), size
    and channels from the graph's input where static.

    A graph without a sidecar falls back to the manifest's recorded preprocessing; `given` (--mean/--std/
    --preprocess) replaces what is recorded. A calibration set is a
    list of images, so one set serves models of any input size (GPU-Net 192x256, UNet# 96x96, ...)."""
    recorded = (read_sidecar(src) or {}).get("preprocess") or manifest["preprocess"]
    if given:
        return replace(given_preprocess({**recorded, **given}, f"preprocessing for {src}"),
                       **{k: v for k, v in zip(("channels", "height", "width"), shape[1:], strict=True) if v})
    try:
        pre = Preprocess.from_dict(recorded)
    except (KeyError, TypeError, ValueError):
        raise EdgesegError(f"{src}: its sidecar's preprocessing is damaged; re-export it with edgeseg export"
                           ) from None
    c, h, w = shape[1:]
    return replace(pre, channels=c or pre.channels, height=h or pre.height, width=w or pre.width)


def calib_batches(manifest: dict[str, Any], batch: int = 1,
                  preprocess: Preprocess | None = None) -> Iterator[np.ndarray]:
    """float32 N x C x H x W batches, preprocessed as `preprocess` (the model's; default: as the manifest
    records); the last short batch is dropped if batch > 1. A colour image for a 1-channel model is refused."""
    pre = preprocess or Preprocess.from_dict(manifest["preprocess"])
    root = Path(manifest["root"])
    buf: list[np.ndarray] = []
    for item in manifest["images"]:
        f = root / item["path"]
        buf.append(pre.image(read_pair(Sample(f.stem, f, None), pre.channels)[0]))
        if len(buf) == batch:
            yield np.stack(buf).astype(np.float32)
            buf = []
    if buf and batch == 1:
        yield np.stack(buf).astype(np.float32)
