"""The INT8 Dice budget (`edgeseg quantize --int8 --max-dice-drop PP --data DIR`), scored exactly as
`edgeseg eval` scores: the FP32 graph is opened with `open_artifact` (its recorded preprocessing), images and
masks go through `evaluate.load_arrays` (the eval readers and label mapping), predictions through
`evaluate.score_arrays` (`metrics.labels_from_logits`, mean Dice over images).

Without masks the reference is the FP32 graph's own prediction: drop = 100 * (1 - mean Dice(INT8, FP32)).
The images are held out: never a calibration image; when the calibration set was drawn from a training
run's training split, only that run's validation images (the test images stay for the final report).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.artifacts import sha256_file
from edgeseg.data.dataset import Sample, SegFolder
from edgeseg.errors import EdgesegError
from edgeseg.names import INPUT_NAME

# requantize(excluded node names, calibration cache, destination): the INT8 graph with those nodes in float
Requantize = Callable[[list[str], Path, Path], None]


@dataclass
class EvalSet:
    samples: list[Sample]
    images: np.ndarray                 # N x C x H x W, preprocessed as recorded with the FP32 graph
    masks: np.ndarray | None           # N x H x W class indices (None: the folder has no masks)
    sha256: list[str]


def eval_set(data: str | Path, fp32: Path, manifest: dict[str, Any], n: int) -> EvalSet:
    """Up to `n` held-out images of `data` (sorted by stem), read and mapped as `edgeseg eval` does."""
    from edgeseg.evaluate import label_map_for, load_arrays
    from edgeseg.runtime.artifact import describe_artifact

    data = Path(data)
    if not data.is_dir():
        raise EdgesegError(f"{data}: no such data directory for the Dice budget; pass --data DIR")
    folder = SegFolder(data, masks=(data / "masks").is_dir())
    samples = list(folder.samples)
    ckpt = manifest.get("checkpoint")
    if manifest.get("split") and ckpt and Path(ckpt).is_file():
        # Calibrated on a run's training split: decide the budget on its validation split, so neither the
        # training images nor the test images (kept for the final report) choose the float layers.
        from edgeseg.checkpoint import read_checkpoint

        val = set((read_checkpoint(ckpt).get("split") or {}).get("val") or [])
        samples = [s for s in samples if s.stem in val]
        if not samples:
            raise EdgesegError(f"{data}: none of the validation images of {ckpt} are here; pass the data folder "
                               f"that run was trained on as --data")
    used = {i["sha256"] for i in manifest["images"]}
    chosen, hashes = [], []
    for s in samples:
        h = sha256_file(s.image)
        if h not in used:
            chosen.append(s)
            hashes.append(h)
        if len(chosen) == n:
            break
    if not chosen:
        raise EdgesegError(f"{data}: no images outside the calibration set to measure the Dice drop on; "
                           f"pass held-out data")
    pp = describe_artifact(fp32).preprocess
    if pp is None:
        from edgeseg.data.preprocess import Preprocess

        pp = Preprocess.from_dict(manifest["preprocess"])
    if folder.samples[0].mask is None:
        from edgeseg.data.dataset import read_pair

        imgs = [pp.image(read_pair(s, pp.channels)[0]) for s in chosen]
        return EvalSet(chosen, np.stack(imgs), None, hashes)
    images, masks = load_arrays(chosen, pp, label_map_for(chosen, pp, None, folder))
    return EvalSet(chosen, images, masks, hashes)


def _labels(path: Path, images: np.ndarray) -> tuple[np.ndarray, int]:
    """(N x H x W class indices via `metrics.labels_from_logits`, number of output channels)."""
    from edgeseg.evaluate import run_logits
    from edgeseg.metrics import labels_from_logits
    from edgeseg.runtime.ort_runner import OnnxRuntimeRunner

    with OnnxRuntimeRunner(path) as r:
        logits = run_logits(r, images)
    return labels_from_logits(logits), int(logits.shape[1])


def _agreement(int8: Path, fp32: Path, es: EvalSet) -> float:
    """Mean Dice of the INT8 graph's prediction against the FP32 graph's (the metric code of eval)."""
    from edgeseg.metrics import SegMetrics

    (pred, k), (ref, _) = _labels(int8, es.images), _labels(fp32, es.images)
    m = SegMetrics(k)
    for p, g, s in zip(pred, ref, es.samples, strict=True):
        m.add(p, g, s.stem)
    return float(m.summary()["dice"])


def score(path: Path, es: EvalSet) -> float:
    """Mean Dice of one graph on the eval set, through `evaluate.score_arrays` (the `edgeseg eval` path)."""
    from edgeseg.evaluate import score_arrays
    from edgeseg.runtime.ort_runner import OnnxRuntimeRunner

    assert es.masks is not None
    with OnnxRuntimeRunner(path) as r:
        return float(score_arrays(r, es.images, es.masks, [s.stem for s in es.samples]).summary()["dice"])


def measure_dice_drop(fp32: Path, int8: Path, es: EvalSet) -> dict[str, Any]:
    """Dice drop (percentage points) of the INT8 graph vs the FP32 graph on the eval set."""
    agree = _agreement(int8, fp32, es)
    res: dict[str, Any] = {"agreement_dice": agree, "images": len(es.samples)}
    if es.masks is not None:
        d32, d8 = score(fp32, es), score(int8, es)
        res.update(reference="ground-truth masks", dice_fp32=d32, dice_int8=d8, drop_pp=100 * (d32 - d8))
    else:
        res.update(reference="fp32 predictions", drop_pp=100 * (1 - agree))
    return res


def _outputs(path: Path, xs: list[np.ndarray], extra: list[str]) -> list[dict[str, np.ndarray]]:
    """Every named tensor in `extra` (made graph outputs) for each batch in `xs`, through ONNX Runtime."""
    import onnx
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    m = onnx.load(str(path))
    have = {o.name for o in m.graph.output}
    m.graph.output.extend(onnx.helper.make_empty_tensor_value_info(t) for t in extra if t not in have)
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return [dict(zip(names, sess.run(None, {INPUT_NAME: x}), strict=True)) for x in xs]


def layer_sensitivity(fp32: Path, int8: Path, xs: list[np.ndarray], ops: Sequence[str]) -> list[tuple[str, float]]:
    """(node name, error it adds) for every quantized op, worst first.

    Error added = normalised MSE (INT8 vs FP32 graph) of the node's output minus that of its activation
    input, so a layer is not blamed for the error accumulated upstream of it.
    """
    import onnx

    m = onnx.load(str(fp32))
    nodes = [(n.name, n.input[0], n.output[0]) for n in m.graph.node if n.op_type in ops]
    graph_in = {i.name for i in m.graph.input}
    tensors = sorted({t for _, i, o in nodes for t in (i, o) if t not in graph_in})
    a, b = _outputs(fp32, xs[:2], tensors), _outputs(int8, xs[:2], tensors)

    def nmse(t: str) -> float:
        if t in graph_in:
            return 0.0
        num = sum(float(np.sum((x[t] - y[t]) ** 2)) for x, y in zip(a, b, strict=True))
        return num / max(sum(float(np.sum(x[t] ** 2)) for x in a), 1e-12)

    return sorted(((name, nmse(o) - nmse(i)) for name, i, o in nodes), key=lambda t: (-t[1], t[0]))


def fit_budget(fp32: Path, int8: Path, es: EvalSet, max_drop: float, batch: int, ops: Sequence[str],
               requantize: Requantize) -> dict[str, Any]:
    """Leave the most sensitive layers in float (1, 2, 4, ... of them) until the Dice drop fits the budget.

    At least one quantized op always stays quantized (a graph with every Conv in float is not INT8); when the
    budget is still missed, "within_budget" is False and the caller decides. `int8` (the graph quantized with
    nothing excluded) is replaced by the last trial.
    """
    usable = len(es.images) // batch * batch
    if usable == 0:
        raise EdgesegError(f"fewer held-out images ({len(es.images)}) than the model batch {batch}")
    xs = [es.images[i:i + batch] for i in range(0, usable, batch)]
    res = measure_dice_drop(fp32, int8, es)
    history = [{"excluded": 0, "drop_pp": res["drop_pp"]}]
    ranking = layer_sensitivity(fp32, int8, xs, ops)
    excluded: list[str] = []
    k = 1
    with tempfile.TemporaryDirectory() as td:
        trial = Path(td) / "trial.onnx"
        cache = Path(td) / "ranges.json"  # calibrate once; the trials only change which nodes are quantized
        most = len(ranking) - 1
        while res["drop_pp"] > max_drop and len(excluded) < most:
            excluded = [n for n, _ in ranking[:k]]
            requantize(excluded, cache, trial)
            res = measure_dice_drop(fp32, trial, es)
            history.append({"excluded": len(excluded), "drop_pp": res["drop_pp"]})
            k = min(2 * k, most)
        if excluded:
            trial.replace(int8)
    return {"max_dice_drop_pp": max_drop, **res, "within_budget": res["drop_pp"] <= max_drop,
            "excluded_nodes": excluded, "history": history,
            "sensitivity": [{"node": n, "added_nmse": s} for n, s in ranking[:10]]}
