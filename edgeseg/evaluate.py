"""Score any backend (checkpoint, ONNX, TensorRT engine) on a segmentation folder with ONE metric code path.

    from edgeseg.evaluate import evaluate_runner
    with OnnxRuntimeRunner("m.onnx") as r:
        res = evaluate_runner(r, "data/", preprocess_dict)   # {"dice", "iou", ..., "per_image": [...]}

By default masks are compared at the model input size (nearest-resized, exactly as in training validation),
so a checkpoint, its ONNX export and its engine are scored on identical pixels; `native=True` (`--native`)
scores at each image's own size, the masks `edgeseg predict` writes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.artifacts import atomic_path
from edgeseg.data.dataset import LabelMap, Sample, SegFolder, label_map_of, parse_foreground, select
from edgeseg.data.preprocess import Preprocess
from edgeseg.errors import EdgesegError
from edgeseg.metrics import NAMES, SegMetrics, labels_from_logits
from edgeseg.runtime.base import Runner
from edgeseg.runtime.opener import Artifact, open_artifact  # noqa: F401 - re-exported
from edgeseg.tiling import TileSpec

DEFAULT_BATCH = 8


def _as_preprocess(pp: Preprocess | dict[str, Any]) -> Preprocess:
    return pp if isinstance(pp, Preprocess) else Preprocess.from_dict(pp)


def run_logits(runner: Runner, x: np.ndarray, batch: int = DEFAULT_BATCH) -> np.ndarray:
    """N x C x H x W float32 -> N x K x H x W logits, in batches the runner accepts (a fixed batch is padded)."""
    meta = runner.input_metadata()
    name = "input" if "input" in meta else next(iter(meta))
    fixed = meta[name].shape[0] if meta[name].shape else None
    step = fixed if isinstance(fixed, int) and fixed > 0 else batch
    outs = []
    for i in range(0, len(x), step):
        chunk = x[i:i + step]
        n = len(chunk)
        if n < step and fixed:
            chunk = np.concatenate([chunk, np.zeros((step - n, *chunk.shape[1:]), chunk.dtype)])
        res = runner.infer({name: np.ascontiguousarray(chunk, np.float32)})
        y = res["logits"] if "logits" in res else next(iter(res.values()))
        outs.append(np.asarray(y, np.float32)[:n])
    return np.concatenate(outs) if outs else np.zeros((0,), np.float32)


def score_arrays(runner: Runner, images: np.ndarray, masks: np.ndarray, stems: Sequence[str],
                 num_classes: int | None = None, batch: int = DEFAULT_BATCH) -> SegMetrics:
    """Preprocessed images + class-index masks -> accumulated metrics (the path every backend takes)."""
    metrics: SegMetrics | None = None if num_classes is None else SegMetrics(num_classes)
    for i in range(0, len(images), batch):
        logits = run_logits(runner, images[i:i + batch], batch)
        if logits.shape[-2:] != masks.shape[-2:]:
            raise EdgesegError(f"{runner.name}: output is {logits.shape[-2]}x{logits.shape[-1]} but the input was "
                               f"{masks.shape[-2]}x{masks.shape[-1]}; the network must keep the spatial size")
        if metrics is None:
            metrics = SegMetrics(logits.shape[1])
        pred = labels_from_logits(logits)
        for j, p in enumerate(pred):
            metrics.add(p, masks[i + j], stems[i + j])
    return metrics if metrics is not None else SegMetrics(num_classes or 1)


def evaluate_runner(runner: Runner, dataset: SegFolder | Sequence[Sample] | str | Path,
                    preprocess: Preprocess | dict[str, Any], *, labels: LabelMap | str | None = None,
                    batch: int = DEFAULT_BATCH, native: bool = False, mode: str | None = None,
                    tiling: TileSpec | None = None, progress: bool = False) -> dict[str, Any]:
    """Score an active runner on a data set (a folder, a SegFolder or a list of samples).

    native=False compares at the model input size (masks nearest-resized, as in training validation);
    native=True scores at each mask's own size, by `mode` (edgeseg.native): "resize" upsamples the logits
    (bilinear), "tile" runs sliding windows (`tiling`); mode=None follows the training regime. A given mode,
    or a network trained on native-scale crops, implies native=True.

    The mask mapping comes from `labels` (a LabelMap or a --foreground spec), else from the preprocessing
    (`Preprocess.labels`, recorded at training), else it is inferred from the masks (0/255 -> 255 = foreground).
    Returns the summary (mean over images and pooled, see edgeseg.metrics) plus "per_image" rows.
    """
    pp = _as_preprocess(preprocess)
    if isinstance(dataset, (str, Path)):
        dataset = SegFolder(dataset)
    folder = dataset if isinstance(dataset, SegFolder) else None
    samples = list(dataset.samples if isinstance(dataset, SegFolder) else dataset)
    if not samples:
        raise EdgesegError("no images to evaluate; check --data and --split")
    lm = label_map_for(samples, pp, labels, folder)
    runner.activate()
    info: dict[str, Any] = {"inference": "input-size"}
    if native or mode is not None or pp.native_scale:
        from edgeseg.native import score_native

        native = True
        m, info = score_native(runner, samples, pp, lm, mode=mode, spec=tiling, progress=progress)
    else:
        images, masks = load_arrays(samples, pp, lm)
        m = score_arrays(runner, images, masks, [s.stem for s in samples], batch=batch)
    if m.num_classes != lm.num_classes and not (m.num_classes == 1 and lm.binary):
        raise EdgesegError(f"{runner.name}: the network predicts {m.num_classes} class(es) but the masks map to "
                           f"{lm.num_classes} (mapping {lm.describe()}); pass the matching --foreground")
    out: dict[str, Any] = dict(m.summary())
    out["foreground"] = lm.describe()
    out["resolution"] = "native" if native else f"{pp.height}x{pp.width}"
    out.update(info)
    out["per_image"] = m.rows
    return out


def label_map_for(samples: Sequence[Sample], pp: Preprocess, labels: LabelMap | str | None = None,
                  folder: SegFolder | None = None) -> LabelMap:
    """The mask mapping `evaluate_runner` scores with: `labels`, else the recorded one, else from the masks."""
    if isinstance(labels, LabelMap):
        return labels
    recorded = label_map_of(pp)
    if labels is None and recorded is not None:
        return recorded
    values = (folder or _Values(samples)).mask_values(samples)
    return parse_foreground(labels if isinstance(labels, str) else None, values)


def load_arrays(samples: Sequence[Sample], pp: Preprocess, lm: LabelMap) -> tuple[np.ndarray, np.ndarray]:
    """N x C x H x W images and N x H x W class-index masks at the model size (as training validation)."""
    from edgeseg.data.torchdata import load_pair

    pairs = [load_pair(s, pp, lm) for s in samples]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


class _Values:
    """mask_values() for a plain list of samples (same checks as SegFolder)."""

    def __init__(self, samples: Sequence[Sample]) -> None:
        self.samples = list(samples)

    def mask_values(self, samples: Sequence[Sample]) -> set[int]:
        return SegFolder.mask_values(self, samples)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------- artifacts

def evaluate_artifact(path: str | Path, data: str | Path, *, split: str | None = None,
                      split_file: str | Path | None = None, foreground: str | None = None, device: str = "cpu",
                      threads: int | None = None, batch: int = DEFAULT_BATCH, native: bool = False,
                      mode: str | None = None, tiling: TileSpec | None = None,
                      progress: bool = False, preprocess: dict[str, Any] | None = None) -> dict[str, Any]:
    """`edgeseg eval`: open the artifact, pick the split, score it. Adds artifact/split/backend to the result.
    `preprocess`: given in place of the recorded preprocessing (an ONNX file from elsewhere)."""
    art = open_artifact(path, device=device, split_file=split_file, threads=threads, preprocess=preprocess)
    folder = SegFolder(data)
    split_name, samples = select(folder, art.split, split)
    with art.runner as r:
        res = evaluate_runner(r, samples, art.preprocess, labels=foreground, batch=batch, native=native, mode=mode,
                              tiling=tiling, progress=progress)
    return {"artifact": str(path), "backend": art.runner.backend, "data": str(data), "split": split_name,
            **res}


def write_csv(path: str | Path, rows: list[dict[str, Any]]) -> None:
    """Per-image results, written atomically."""
    if not rows:
        return
    cols = ["image", *NAMES] + [c for c in rows[0] if c not in ("image", *NAMES)]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in r.items()})
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue())
