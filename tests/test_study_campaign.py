"""`edgeseg campaign`: a plan on the generated data set, on a real local Ray instance and in-process.

* Ray and the in-process path give byte-equal per-image CSVs;
* a worker killed mid-run: Ray retries the task, the run resumes from last.pt, finishes once, and its CSV
  equals the uninterrupted one (no half-written result file is left);
* two `campaign run` processes on one plan split the runs, none trained twice (one of them without Ray);
* `edgeseg compare` with --device-bench on the result.
Tiny recipe (32x32, 12 images, 3 epochs) so the whole file stays in seconds of training.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from edgeseg.data.synth import make_synthetic
from edgeseg.study.execute import run_plan
from edgeseg.study.plan import load_plan

ROOT = Path(__file__).resolve().parents[1]
PLAN = """
name = "tiny"
split_seed = 0
[sets.synth]
folder = "{data}"
kind = "holdout"
n_train = 6
n_val = 3
size = [32, 32]
epochs = 3
batch = 3
lr = 2e-3
[networks.tinyunet]
seeds = [0, 1]
[networks.ulite]
seeds = [0, 1]
"""


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("campaign")
    make_synthetic(d / "data", n=12, size=32, seed=0)
    p = d / "tiny.toml"
    p.write_text(PLAN.format(data=d / "data"))
    return p


@pytest.fixture(scope="module")
def in_process(plan_file: Path) -> Path:
    """The reference: every run one by one in this process."""
    res = plan_file.parent / "ref"
    plan = load_plan(plan_file, results=res, runs=plan_file.parent / "ref-runs")
    states = run_plan(plan, plan.jobs(), use_ray=False, argv=["test"], log=lambda m: None)
    assert all(s.startswith("trained") for s in states.values()), states
    return res


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'edgeseg[cluster]')")
    ray.init(address="local", num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _csvs(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.glob("*/*/*.csv"))}


def test_ray_equals_in_process(plan_file: Path, in_process: Path, ray_local, monkeypatch) -> None:
    res = plan_file.parent / "ray"
    monkeypatch.chdir(plan_file.parent)  # relative folders: the Ray workers must write where the caller meant
    plan = load_plan(plan_file, results="ray", runs="ray-runs")
    states = run_plan(plan, plan.jobs(), argv=["test"], log=lambda m: None)
    assert len(states) == 4 and all(s.startswith("trained") for s in states.values()), states
    ref = _csvs(in_process)
    assert len(ref) == 4 and _csvs(res) == ref
    doc = json.loads((res / "synth" / "ulite" / "f0-s1.json").read_text())
    assert doc["code_commit"] and doc["machine"] and doc["versions"]["torch"] and doc["command"] == "test"
    assert doc["worker"].split(":")[1] != str(os.getpid())  # trained in a Ray worker, not here


def test_killed_worker_resumes_once(plan_file: Path, in_process: Path, ray_local) -> None:
    res, runs = plan_file.parent / "kill", plan_file.parent / "kill-runs"
    plan = load_plan(plan_file, results=res, runs=runs)
    job = next(j for j in plan.jobs() if j.variant == "ulite" and j.seed == 1)
    out: dict = {}
    t = threading.Thread(target=lambda: out.update(run_plan(plan, [job], argv=["test"], log=lambda m: None)))
    t.start()
    run_dir, lock = plan.run_dir(job), plan.run_dir(job).parent / ".f0-s1.lock"
    killed, deadline = None, time.monotonic() + 120
    while killed is None and time.monotonic() < deadline and t.is_alive():
        m = run_dir / "metrics.json"
        if m.is_file() and (run_dir / "last.pt").is_file():
            doc = json.loads(m.read_text())
            if doc.get("status") == "training" and len(doc.get("history") or []) == 1:
                killed = int(lock.read_text().split()[1])
                os.kill(killed, signal.SIGKILL)  # the Ray worker process training the run
        time.sleep(0.05)
    t.join(timeout=300)
    assert killed is not None, "the run finished before it could be killed"
    assert out[job].startswith("trained (resumed)"), out
    doc = json.loads(plan.result_paths(job)[1].read_text())
    assert doc["resumes"] == 1 and int(doc["worker"].split(":")[1]) != killed
    assert _csvs(res) == {k: v for k, v in _csvs(in_process).items() if k == "synth/ulite/f0-s1.csv"}
    assert not [p for p in res.rglob("*") if p.name.endswith(".tmp")]  # nothing half-written


def test_two_processes_split_the_runs(plan_file: Path, in_process: Path) -> None:
    res = plan_file.parent / "two"
    args = ["campaign", "run", str(plan_file), "--results", str(res), "--checkpoints",
            str(plan_file.parent / "two-runs")]
    no_ray = f"import sys; sys.modules['ray'] = None; from edgeseg.cli import main; sys.exit(main({args!r}))"
    cmds = [[sys.executable, "-m", "edgeseg", *args, "--no-ray"], [sys.executable, "-c", no_ray]]  # Ray absent
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(c, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for c in cmds]
    logs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs
    trained = [{" ".join(line.split("] ", 1)[1].split(":")[0].split()) for line in log.splitlines()
                if ": trained" in line} for log in logs]
    assert not trained[0] & trained[1], trained  # no run trained by both
    assert len(trained[0] | trained[1]) == 4, logs
    assert "one by one in this process (--no-ray)" in logs[0]
    assert "one by one in this process (Ray is not installed; pip install 'edgeseg[cluster]'" in logs[1]
    assert _csvs(res) == _csvs(in_process)
    assert all(json.loads(p.read_text())["resumes"] == 0 for p in res.glob("*/*/*.json"))


def test_compare_report_and_device_bench(plan_file: Path, in_process: Path, tmp_path: Path) -> None:
    """`edgeseg compare` on the in-process campaign: intervals, learned k of n, optimize of each best seed."""
    from edgeseg.cli import main

    out = tmp_path / "cmp"
    assert main(["compare", str(in_process), "--out", str(out), "--device-bench", "--checkpoints",
                 str(plan_file.parent / "ref-runs"), "--data", f"synth={plan_file.parent / 'data'}",
                 "--precisions", "fp32", "--threads", "1", "--rounds", "1", "--iters", "2",
                 "--max-dice-drop", "100"]) == 0
    doc = json.loads((out / "compare.json").read_text())
    rows = {r["network"]: r for r in doc["networks"]}
    assert set(rows) == {"tinyunet", "ulite"} and any(r["learned"] for r in rows.values())
    for r in rows.values():
        assert r["runs"] == 2 and 0 <= r["learned"] <= 2
        if r["learned"]:
            t = r["test_dice"]
            assert t["lo"] <= t["estimate"] <= t["hi"] and t["runs"] == [r["learned"]] and t["n_images"] == 3
            d = r["device"]
            assert d["artifact"] == "fp32 b1" and d["p50_ms"] > 0 and d["p99_ms"] >= d["p50_ms"]
            assert Path(d["optimize"]).is_file()
    md = (out / "compare.md").read_text()
    assert "**Recommendation.**" in md and "TensorRT engines:" in md and (out / "compare.png").is_file()
