"""Bench workers: a timeout scaled to the iterations; a worker that fails for a real reason (a graph ONNX
Runtime cannot load, a timeout) is a FAILED row with its reason and a non-zero exit; skipped = backend absent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeseg.bench.harness import WorkerFailed, make_config, run_config_isolated, worker_timeout
from edgeseg.cli import main


def _unloadable_onnx(path: Path) -> Path:
    """A well-formed ONNX file (onnx.load reads it, the parent's precheck passes) with an op no runtime has:
    the worker's ONNX Runtime session fails to load it."""
    import onnx
    from onnx import TensorProto, helper

    g = helper.make_graph([helper.make_node("NoSuchOp", ["input"], ["logits"], domain="edgeseg.test")], "bad",
                          [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 32, 32])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1, 32, 32])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                                  helper.make_opsetid("edgeseg.test", 1)]), str(path))
    return path


def test_failing_worker_is_a_failed_row_and_nonzero_exit(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = _unloadable_onnx(tmp_path / "bad.onnx")
    out = tmp_path / "res.json"
    rc = main(["bench", "--onnx", str(bad), "--threads", "1", "--warmup", "1", "--iters", "2", "--json", str(out)])
    assert rc == 1
    printed = capsys.readouterr().out
    doc = json.loads(out.read_text())
    assert doc["results"] == [] and doc["skipped"] == []
    (f,) = doc["failed"]
    assert f["backend"] == "onnxruntime" and "bad.onnx" in f["reason"] and "ONNX Runtime cannot load" in f["reason"]
    assert f"FAILED: bad onnxruntime fp32: {f['reason']}" in printed


def test_worker_past_its_timeout_is_killed_and_failed(tmp_path: Path) -> None:
    cfg = make_config(model="tinyunet", backend="pytorch", artifact="tinyunet", threads=1, size=[32, 32],
                      warmup=1, iters=2)
    with pytest.raises(WorkerFailed, match=r"ran past its 0 s timeout"):
        run_config_isolated(cfg, timeout=0.2)  # a real worker, really killed: it cannot even import torch by then


def test_worker_timeout_scales_with_iterations() -> None:
    few, many = make_config(iters=10), make_config(iters=1000)
    assert worker_timeout(many) > worker_timeout(few) > 0
    assert worker_timeout(make_config(iters=10, batch=8)) > worker_timeout(few)
    assert worker_timeout(make_config(seconds=60.0)) >= 60.0 * 2
