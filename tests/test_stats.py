"""Bench statistics, schema validator, table, ratios, Pareto front and energy integration on known inputs."""

from __future__ import annotations

import copy

import pytest

from edgeseg.bench.machine import isa_class
from edgeseg.bench.results import format_table, pareto_front
from edgeseg.bench.schema import SCHEMA, check, validate
from edgeseg.bench.speedups import compute_ratios, format_ratios
from edgeseg.bench.timing import latency_stats, throughput_ips
from edgeseg.errors import EdgesegError
from edgeseg.power import trapezoid_mj
from edgeseg.study.speed_targets import judged_ratios


def test_percentiles_linear_method_by_hand() -> None:
    # numpy 'linear' (type 7): position (n-1)*q/100 over the sorted samples.
    s = latency_stats([4.0, 1.0, 3.0, 2.0])
    assert s["min"] == 1.0 and s["max"] == 4.0 and s["mean"] == 2.5
    assert s["p50"] == pytest.approx(2.5)   # pos 1.5 -> 2 + 0.5 * 1
    assert s["p90"] == pytest.approx(3.7)   # pos 2.7 -> 3 + 0.7 * 1
    assert s["p99"] == pytest.approx(3.97)  # pos 2.97
    s = latency_stats(list(range(1, 102)))  # 1..101: pos = q exactly
    assert (s["p50"], s["p90"], s["p99"]) == (51.0, 91.0, 100.0)
    assert latency_stats([7.5]) == {k: 7.5 for k in ("min", "mean", "p50", "p90", "p99", "max")}


def test_empty_samples_raise() -> None:
    with pytest.raises(ValueError):
        latency_stats([])


def test_throughput_is_images_over_total_time() -> None:
    assert throughput_ips([10.0, 30.0], batch=4) == pytest.approx(8 / 0.040)


def test_trapezoid_energy_hand_computed() -> None:
    pts = [(0.0, 1000.0), (1.0, 3000.0), (2.0, 3000.0)]
    assert trapezoid_mj(pts, 0.0, 2.0) == pytest.approx(2000.0 + 3000.0)
    assert trapezoid_mj(pts, 0.5, 1.0) == pytest.approx(0.5 * (2000 + 3000) / 2)
    assert trapezoid_mj([], 0, 1) is None
    assert trapezoid_mj(pts, 1.0, 1.0) == 0.0


def test_one_energy_integrator_refuses_a_reversed_window() -> None:
    """NVML and tegrastats integrate through the same function: same answer, same refusal for t1 < t0."""
    from edgeseg.power.tegrastats import TegrastatsSample, energy_mj

    pts = [(0.0, 1000.0), (1.0, 3000.0), (2.0, 3000.0)]
    samples = [TegrastatsSample(rails={"VDD_IN": (p, p)}, t=t) for t, p in pts]
    assert energy_mj(samples, 0.25, 1.75) == pytest.approx(trapezoid_mj(pts, 0.25, 1.75))
    for fn in (lambda: trapezoid_mj(pts, 2.0, 1.0), lambda: energy_mj(samples, 2.0, 1.0)):
        with pytest.raises(ValueError, match="ends before it starts"):
            fn()


def _result(**kw) -> dict:
    r = {"model": "unet", "backend": "onnxruntime", "precision": "fp32", "device": "cpu", "threads": 1, "batch": 1,
         "input_shape": [1, 3, 64, 64], "latency_ms": {"min": 1, "mean": 2, "p50": 2, "p90": 3, "p99": 4, "max": 5},
         "throughput_ips": 500.0, "peak_mem_mb": 10.0, "size_mb": 1.0, "params": 10, "dice": None, "iou": None,
         "energy_mj_per_image": None, "artifact": "a.onnx", "notes": None}
    r.update(kw)
    return r


def _doc(results: list[dict]) -> dict:
    return {"schema": SCHEMA, "created": "2026-01-01T00:00:00+00:00", "command": "x",
            "env": {"cpu": {}, "cores": 2, "threads": [1], "gpu": None, "versions": {}}, "results": results}


def test_validator_accepts_valid_and_names_problems() -> None:
    assert validate(_doc([_result()])) == []
    bad = _doc([_result(backend="tflite"), _result(dice=1.5), _result(input_shape=[1, 3, 64])])
    del bad["results"][0]["notes"]
    bad["results"][1]["latency_ms"]["p50"] = 9
    errs = validate(bad)
    joined = " ".join(errs)
    for needle in ("results[0]: missing 'notes'", "'backend' must be one of", "'dice' must be in [0, 1]",
                   "not ordered", "input_shape"):
        assert needle in joined, (needle, errs)
    with pytest.raises(EdgesegError, match="edgeseg-bench/1"):
        check({"schema": "other"})


def test_table_has_per_image_latency() -> None:
    t = format_table([_result(batch=4, latency_ms={"min": 8, "mean": 8, "p50": 8, "p90": 8, "p99": 12, "max": 12})])
    line = t.splitlines()[2]
    assert "| onnxruntime |" in line and "2.00" in line and "3.00" in line  # 8/4 and 12/4 ms per image


def test_ratios_from_results() -> None:
    lat = lambda p50: {"min": p50, "mean": p50, "p50": p50, "p90": p50, "p99": p50, "max": p50}  # noqa: E731
    doc = _doc([_result(latency_ms=lat(10.0)), _result(backend="pytorch", latency_ms=lat(20.0)),
                _result(precision="int8", latency_ms=lat(4.0)), _result(precision="int8-io", latency_ms=lat(6.0)),
                _result(model="ulite", latency_ms=lat(1.0)), _result(model="ulite", backend="pytorch",
                                                                     latency_ms=lat(2.5)),
                _result(model="ulite", precision="fp16", latency_ms=lat(0.5))])
    assert all(r["meets"] is None for r in compute_ratios(copy.deepcopy(doc)))  # the toolkit alone judges nothing
    doc["env"] = {"cpu": {"flags": ["avx2", "avx512f", "avx512_vnni", "fma"]}}
    got = {(r["kind"], r["model"]): r for r in judged_ratios(copy.deepcopy(doc))[0]}
    assert got[("ort_fp32_vs_torch", "unet")]["ratio"] == pytest.approx(2.0)
    assert got[("ort_fp32_vs_torch", "unet")]["meets"] is None  # issue 12 replaced that target
    i8, io = got[("int8_vs_fp32", "unet")], got[("int8io_vs_fp32", "unet")]
    assert i8["ratio"] == pytest.approx(2.5) and i8["meets"] is None  # the TensorRT layout: reported only
    assert io["ratio"] == pytest.approx(10 / 6) and io["meets"] is False  # U-Net int8-io >= 2x: missed here
    # Best artifact: U-Lite's fp16 (0.5 ms): 0.05 of U-Net's FP32 (target <= 0.04: missed), 5x its eager (>= 3: met)
    share = got[("best_vs_unet_fp32", "ulite")]
    assert share["ratio"] == pytest.approx(0.05) and share["meets"] is False and "fp16" in share["denominator"]
    assert got[("best_vs_torch", "ulite")]["ratio"] == pytest.approx(5.0) and got[("best_vs_torch", "ulite")]["meets"]
    assert got[("best_vs_torch", "unet")]["ratio"] == pytest.approx(5.0)  # U-Net's best is its int8 (4 ms)
    table = format_ratios(list(got.values()))
    assert "NO" in table and "<= 0.04" in table and "0.050" in table


def test_speed_targets_are_kept_per_isa_class() -> None:
    assert isa_class(["avx2", "fma", "avx512f", "avx512_vnni"]) == "avx512-vnni"
    assert isa_class(["avx2", "fma", "avx512f"]) == "avx512" and isa_class(["avx2", "fma"]) == "avx2"
    assert isa_class(["asimd", "asimddp"]) is None and isa_class(None) is None
    lat = {"min": 1.0, "mean": 1.0, "p50": 1.0, "p90": 1.0, "p99": 1.0, "max": 1.0}
    rows = [_result(latency_ms={**lat, "p50": 10.0}), _result(precision="int8-io", latency_ms={**lat, "p50": 4.0})]
    avx2 = _doc(rows) | {"env": {"cpu": {"flags": ["avx2", "fma"]}}}
    io = {r["kind"]: r for r in judged_ratios(avx2)[0]}["int8io_vs_fp32"]
    assert io["ratio"] == pytest.approx(2.5) and io["target"] is None  # the INT8 target is a VNNI one: reported
    arm = _doc(rows) | {"env": {"cpu": {"flags": ["asimd"]}}}
    ratios, note = judged_ratios(arm)
    assert all(r["meets"] is None for r in ratios) and "ISA class unknown" in note and "not judged" in note


def test_pareto_front() -> None:
    pts = [(1.0, 0.5), (2.0, 0.8), (3.0, 0.7), (0.5, 0.4), (4.0, 0.9)]
    assert pareto_front(pts) == [3, 0, 1, 4]
