"""Fuzz the parsers of user files with Hypothesis: only our one-line error type may escape.

Image and mask readers (random bytes, and valid PNG/TIFF/JPEG/BMP files with flipped bytes or cut short), label
maps (--foreground), sidecars (ONNX and engine, through the opener and the engine-file check), calibration
manifests, checkpoint metadata, --preprocess files and split files. Each test is bounded by `max_examples`, so
the whole module runs in about a minute on two busy cores; it is derandomised so a failure reproduces.
A case that raises anything but `EdgesegError` (a traceback for a user) fails the test with that input.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from edgeseg.artifacts import sidecar_path
from edgeseg.calib import SCHEMA, load_calib, model_preprocess
from edgeseg.checkpoint import FORMAT, read_checkpoint
from edgeseg.data.dataset import parse_foreground, read_split_file
from edgeseg.data.images import read_image, read_mask
from edgeseg.data.preprocess import read_preprocess_file
from edgeseg.errors import EdgesegError
from edgeseg.runtime.engine_file import check_engine_file
from edgeseg.runtime.opener import describe_artifact, resolve_preprocess
from edgeseg.sidecars import CheckpointRecord

FUZZ = settings(max_examples=250, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CASES: dict[str, int] = {}  # examples run per test (printed by the last test: the case count)
WORK = Path(tempfile.mkdtemp(prefix="edgeseg-fuzz-"))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 40, 2 ** 40) | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


def only_ours(fn: Callable[[], Any], name: str) -> None:
    """`fn` returns or raises a one-line EdgesegError, and warns nothing (a warning is more lines for the user)."""
    CASES[name] = CASES.get(name, 0) + 1
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            fn()
        except EdgesegError as e:
            assert "\n" not in str(e).strip(), str(e)
    assert not seen, [str(w.message) for w in seen]


def _encoded() -> dict[str, bytes]:
    import tifffile

    rng = np.random.default_rng(0)
    g = rng.integers(0, 256, (12, 10), dtype=np.uint8)
    out: dict[str, bytes] = {}
    for name, img, fmt in (("l.png", Image.fromarray(g), "PNG"), ("rgb.png", Image.fromarray(np.stack([g] * 3, -1)),
                                                                     "PNG"),
                           ("p.png", Image.fromarray(g).convert("P"), "PNG"), ("j.jpg", Image.fromarray(g), "JPEG"),
                           ("b.bmp", Image.fromarray(g), "BMP"),
                           ("d.tif", Image.fromarray(g.astype(np.uint16) * 64), "TIFF")):
        buf = io.BytesIO()
        img.save(buf, format=fmt)
        out[name] = buf.getvalue()
    buf = io.BytesIO()
    tifffile.imwrite(buf, rng.random((12, 10, 3)).astype(np.float32), photometric="rgb")
    out["f.tif"] = buf.getvalue()
    return out


ENCODED = _encoded()


@st.composite
def damaged_image(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(ENCODED)))
    data = bytearray(ENCODED[name])
    for _ in range(draw(st.integers(0, 6))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return name, bytes(data)


@settings(FUZZ, max_examples=400)
@given(st.one_of(damaged_image(), st.tuples(st.sampled_from(["x.png", "x.tif", "x.jpg", "x.bmp"]),
                                            st.binary(max_size=300))))
def test_image_and_mask_readers(case: tuple[str, bytes]) -> None:
    name, data = case
    f = WORK / f"img-{os.getpid()}-{name}"
    f.write_bytes(data)
    only_ours(lambda: read_image(f), "image reader")
    only_ours(lambda: read_mask(f), "mask reader")


@FUZZ
@given(st.text(max_size=20), st.sets(st.integers(0, 255), max_size=6))
def test_label_maps(spec: str, values: set[int]) -> None:
    only_ours(lambda: parse_foreground(spec, values), "label map")


SIDECAR_KEYS = {"kind": st.sampled_from(["onnx", "engine", "onnx-int8-qdq"]) | json_values,
                "sha256": st.text(max_size=64) | json_values,
                "preprocess": st.fixed_dictionaries({}, optional={k: json_values | st.integers(-3, 300) for k in
                                                                  ("height", "width", "channels", "mean", "std",
                                                                   "labels", "native_scale")}) | json_values,
                "inputs": json_values, "outputs": json_values, "split": json_values, "model": json_values,
                "flavour": st.sampled_from(["tensorrt", "tensorrt-rtx"]) | json_values,
                "size_bytes": st.integers(-5, 5000) | json_values, "header_magic": st.text(max_size=8) | json_values,
                "trt_version": json_values, "onnx": json_values, "precision": json_values}
sidecars = st.fixed_dictionaries({}, optional=SIDECAR_KEYS)


@FUZZ
@given(st.one_of(sidecars.map(lambda d: json.dumps(d).encode()), st.binary(max_size=200)),
       st.none() | st.fixed_dictionaries({}, optional={k: json_values for k in ("mean", "std", "height")}))
def test_onnx_sidecar_through_the_opener(side: bytes, given_pre: dict | None) -> None:
    onnx = WORK / "m.onnx"
    if not onnx.exists():
        onnx.write_bytes(b"\x08\x07")  # bytes only: the opener reads the sidecar, never the graph, here
    sidecar_path(onnx).write_bytes(side)
    only_ours(lambda: resolve_preprocess(describe_artifact(onnx), given_pre or None), "onnx sidecar")


@FUZZ
@given(st.one_of(sidecars.map(lambda d: json.dumps(d).encode()), st.binary(max_size=200)), st.binary(max_size=200))
def test_engine_sidecar_and_bytes(side: bytes, engine: bytes) -> None:
    f = WORK / "m.engine"
    f.write_bytes(engine)
    sidecar_path(f).write_bytes(side)
    only_ours(lambda: check_engine_file(f), "engine sidecar")
    only_ours(lambda: describe_artifact(f), "engine sidecar")


manifests = st.fixed_dictionaries({"schema": st.just(SCHEMA) | json_values}, optional={
    "data_root": st.just(".") | json_values, "data_root_abs": json_values,
    "preprocess": SIDECAR_KEYS["preprocess"],
    "images": st.lists(st.fixed_dictionaries({}, optional={"path": st.text(max_size=10) | json_values,
                                                           "sha256": st.text(max_size=64) | json_values}), max_size=3)
    | json_values})


@FUZZ
@given(st.one_of(manifests.map(lambda d: json.dumps(d).encode()), st.binary(max_size=200)))
def test_calibration_manifests(data: bytes) -> None:
    f = WORK / "calib.json"
    f.write_bytes(data)

    def use() -> None:
        m = load_calib(f, verify=True)
        model_preprocess(WORK / "no-sidecar.onnx", [1, 1, None, None], m)

    only_ours(use, "calibration manifest")


@settings(FUZZ, max_examples=100)
@given(st.one_of(st.fixed_dictionaries({"format": st.just(FORMAT) | json_values}, optional={
    "model": st.fixed_dictionaries({"name": st.text(max_size=8) | json_values}, optional={"options": json_values})
    | json_values, "state_dict": st.just({}) | json_values, "preprocess": SIDECAR_KEYS["preprocess"],
    "split": json_values, "metrics": json_values}), json_values))
def test_checkpoint_metadata(payload: Any) -> None:
    f = WORK / "ckpt.pt"
    torch.save(payload, f)
    only_ours(lambda: CheckpointRecord.from_payload(read_checkpoint(f)), "checkpoint metadata")


@settings(FUZZ, max_examples=60)
@given(st.binary(max_size=400))
def test_checkpoint_bytes(data: bytes) -> None:
    f = WORK / "raw.pt"
    f.write_bytes(data)
    only_ours(lambda: read_checkpoint(f), "checkpoint bytes")


@FUZZ
@given(st.one_of(json_values.map(lambda v: json.dumps(v).encode()),
                 sidecars.map(lambda d: json.dumps(d["preprocess"] if isinstance(d.get("preprocess"), dict)
                                                   else d).encode()),
                 st.binary(max_size=100)))
def test_preprocess_and_split_files(data: bytes) -> None:
    f = WORK / "user.json"
    f.write_bytes(data)
    onnx = WORK / "pre.onnx"
    if not onnx.exists():
        onnx.write_bytes(b"\x08\x07")
        sidecar_path(onnx).write_text(json.dumps({"inputs": [{"shape": [1, 1, 8, 8]}]}))
    only_ours(lambda: resolve_preprocess(describe_artifact(onnx), read_preprocess_file(f)), "preprocess file")
    only_ours(lambda: read_split_file(f), "split file")


def test_case_count() -> None:
    """Runs last (file order): the fuzz budget really ran. The count goes to the log (pytest -s / -rA)."""
    total = sum(CASES.values())
    print(f"fuzz cases: {total} ({', '.join(f'{k} {v}' for k, v in sorted(CASES.items()))})")
    if not CASES:
        pytest.skip("run with the fuzz tests above (this one only reports their count)")
    assert total >= 2000, CASES
