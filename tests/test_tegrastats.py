"""tegrastats parsing, energy integration and the background sampler (edgeseg.power.tegrastats).

Fixture lines are exact tegrastats output from real devices, copied from public sources cited next to each.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from edgeseg.errors import MissingDependencyError
from edgeseg.power.tegrastats import (
    TegrastatsSample,
    TegrastatsSampler,
    energy_mj,
    parse_line,
    parse_lines,
)

# --- Real lines ---------------------------------------------------------------------------------------------
# Source A: DataDog/datadog-agent, pkg/collector/corechecks/nvidia/jetson/jetson_test.go
#           (commit 020f92f4a5f629e0838d2f460c371f3e455628cf), constants agXSample, xavierNxSample,
#           voltageUnitSample, r36Sample, orinSample.
AGX_XAVIER_JP4 = (  # Source A agXSample: AGX Xavier, rails without units (JetPack 4)
    "RAM 721/31927MB (lfb 7291x4MB) SWAP 0/15963MB (cached 0MB) CPU [2%@1190,0%@1190,0%@1190,0%@1190,off,off,off,off]"
    " EMC_FREQ 0%@665 GR3D_FREQ 0%@318 APE 150 MTS fg 0% bg 0% AO@37.5C GPU@37.5C Tdiode@40C PMIC@100C AUX@36C"
    " CPU@37.5C thermal@36.9C Tboard@37C GPU 0/0 CPU 311/311 SOC 932/932 CV 0/0 VDDRQ 621/621 SYS5V 1482/1482"
)
XAVIER_NX_JP4 = (  # Source A xavierNxSample: Xavier NX, VDD_IN without units
    "RAM 4412/7772MB (lfb 237x4MB) SWAP 139/3886MB (cached 2MB) CPU [9%@1190,6%@1190,6%@1190,5%@1190,4%@1190,8%@1267]"
    " EMC_FREQ 10%@1600 GR3D_FREQ 62%@306 APE 150 MTS fg 0% bg 0% AO@41.5C GPU@43C PMIC@100C AUX@41.5C CPU@43.5C"
    " thermal@42.55C VDD_IN 4067/4067 VDD_CPU_GPU_CV 738/738 VDD_SOC 1353/1353"
)
ORIN_NX_JP5 = (  # Source A voltageUnitSample: Orin NX 16GB (8 cores, 4 off), JetPack 5 "mW/mW", CV sensors present
    "RAM 6334/15388MB (lfb 1770x4MB) SWAP 491/7694MB (cached 0MB) CPU [6%@729,9%@729,5%@729,16%@729,off,off,off,off]"
    " EMC_FREQ 0%@2133 GR3D_FREQ 0%@611 VIC_FREQ 729 APE 174 CV0@45.812C CPU@47.937C SOC2@46.093C SOC0@46.968C"
    " CV1@46.406C GPU@45.875C tj@48.875C SOC1@48.875C CV2@45.75C VDD_IN 5299mW/5299mW VDD_CPU_GPU_CV 773mW/773mW"
    " VDD_SOC 1424mW/1424mW"
)
AGX_ORIN_R36 = (  # Source A r36Sample: AGX Orin on L4T r36 (JetPack 6), irregular spacing, no VDD_IN
    "RAM 29114/30697MB (lfb 3x4MB)    SWAP 4915/15348MB (cached 1MB) CPU [3%@729,4%@729,0%@729,1%@729,0%@2201,"
    "100%@2201,1%@2201,0%@2201,100%@2201,0%@2201,0%@2201,0%@2201] EMC_FREQ 1%@2133 GR3D_FREQ 0%@[305,305] NVENC"
    "      off  NVDEC    off NVJPG off NVJPG1    off         VIC        off          OFA           off          NVDLA0"
    "    off       NVDLA1     off          PVA0_FREQ off         APE           174        cpu@53.062C soc2@48.25C"
    " soc0@48.843C  gpu@47.812C tj@53.062C soc1@48.968C    VDD_GPU_SOC 3205mW/3205mW VDD_CPU_CV 4405mW/4405mW"
    " VIN_SYS_5V0 4767mW/4767mW"
)
# Source B: Tenkawa-tawawa/NVDA-jetson-demo, practice1/README.md (JetPack 6.2, Orin Nano 8GB: 7620MB, 6 cores).
ORIN_NANO_JP6 = (
    "01-27-2026 11:15:02 RAM 2250/7620MB (lfb 3x4MB) SWAP 0/3810MB (cached 0MB) CPU [66%@1728,16%@1728,18%@1728,"
    "9%@1728,9%@729,16%@729] GR3D_FREQ 0% cpu@45.968C soc2@45.156C soc0@45.468C gpu@45.437C tj@45.968C soc1@44.281C"
    " VDD_IN 4046mW/4236mW VDD_CPU_GPU_CV 720mW/786mW VDD_SOC 1201mW/1261mW"
)
# Source C: a public GitHub Go test, TestParseTegraStatsXavierNXJetPack512 (tegrastats exporter; the search index
# that found it did not name the repository): Xavier NX on JetPack 5.1.2, timestamped, "mW/mW".
XAVIER_NX_JP512 = (
    "07-09-2024 13:31:31 RAM 3168/6851MB (lfb 2x4MB) SWAP 161/3426MB (cached 0MB) CPU [23%@1397,17%@1192,16%@1190,"
    "13%@1190,23%@1190,10%@1190] EMC_FREQ 2%@204 GR3D_FREQ 0%@[114] VIC_FREQ 115 APE 150 AUX@45C CPU@46.5C"
    " thermal@45.6C AO@45C GPU@45.5C PMIC@50C VDD_IN 2763mW/2846mW VDD_CPU_GPU_CV 650mW/670mW VDD_SOC 650mW/711mW"
)


def test_orin_nano_jetpack6_line() -> None:
    s = parse_line(ORIN_NANO_JP6)
    assert s is not None
    assert s.timestamp == datetime(2026, 1, 27, 11, 15, 2)
    assert s.rails == {"VDD_IN": (4046.0, 4236.0), "VDD_CPU_GPU_CV": (720.0, 786.0), "VDD_SOC": (1201.0, 1261.0)}
    assert s.total_power_mw == 4046.0 and s.power_source == "VDD_IN"
    assert (s.ram_used_mb, s.ram_total_mb, s.swap_used_mb, s.swap_total_mb) == (2250, 7620, 0, 3810)
    assert s.cpu_loads == [66.0, 16.0, 18.0, 9.0, 9.0, 16.0]
    assert s.cpu_freqs_mhz == [1728, 1728, 1728, 1728, 729, 729]
    assert s.gpu_load_pct == 0.0 and s.gpu_freq_mhz is None  # Orin Nano JP6 prints "GR3D_FREQ 0%" without @MHz
    assert s.temps_c == {"cpu": 45.968, "soc2": 45.156, "soc0": 45.468, "gpu": 45.437, "tj": 45.968, "soc1": 44.281}


def test_xavier_nx_jetpack512_line() -> None:
    s = parse_line(XAVIER_NX_JP512)
    assert s is not None
    assert s.timestamp == datetime(2024, 7, 9, 13, 31, 31)
    assert s.rails["VDD_IN"] == (2763.0, 2846.0)
    assert s.total_power_mw == 2763.0
    assert s.gpu_load_pct == 0.0 and s.gpu_freq_mhz == 114  # "GR3D_FREQ 0%@[114]"
    assert s.emc_load_pct == 2.0 and s.emc_freq_mhz == 204
    assert s.cpu_freqs_mhz[0] == 1397 and len(s.cpu_loads) == 6
    assert s.temps_c["CPU"] == 46.5 and s.temps_c["PMIC"] == 50.0


def test_orin_nx_jetpack5_drops_absent_free_sensors_and_uses_vdd_in() -> None:
    s = parse_line(ORIN_NX_JP5)
    assert s is not None
    assert s.timestamp is None
    assert s.total_power_mw == 5299.0 and s.power_source == "VDD_IN"
    assert s.cpu_loads == [6.0, 9.0, 5.0, 16.0, None, None, None, None]  # "off" cores
    assert s.cpu_freqs_mhz[4:] == [None] * 4
    assert s.gpu_freq_mhz == 611
    assert s.temps_c["tj"] == 48.875 and s.temps_c["CV2"] == 45.75


def test_agx_orin_r36_sums_rails_without_vdd_in() -> None:
    s = parse_line(AGX_ORIN_R36)
    assert s is not None
    assert set(s.rails) == {"VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0"}
    # no VDD_IN on AGX Orin: board power is the sum of the module's rails (documented; excludes the carrier board)
    assert s.total_power_mw == 3205.0 + 4405.0 + 4767.0
    assert s.power_source == "sum(VDD_GPU_SOC+VDD_CPU_CV+VIN_SYS_5V0)"
    assert s.gpu_freq_mhz == 305  # "GR3D_FREQ 0%@[305,305]": first GPC
    assert len(s.cpu_loads) == 12 and s.cpu_loads[5] == 100.0
    assert (s.ram_used_mb, s.swap_used_mb) == (29114, 4915)
    assert "NVENC" not in s.rails and "APE" not in s.rails


def test_agx_xavier_jetpack4_rails_without_units() -> None:
    s = parse_line(AGX_XAVIER_JP4)
    assert s is not None
    assert s.rails == {
        "GPU": (0.0, 0.0), "CPU": (311.0, 311.0), "SOC": (932.0, 932.0),
        "CV": (0.0, 0.0), "VDDRQ": (621.0, 621.0), "SYS5V": (1482.0, 1482.0),
    }
    assert s.total_power_mw == 311 + 932 + 621 + 1482
    # "GPU@37.5C" is a temperature, "GPU 0/0" a rail: both kept apart
    assert s.temps_c["GPU"] == 37.5 and s.temps_c["PMIC"] == 100.0
    assert "RAM" not in s.rails and "SWAP" not in s.rails


def test_xavier_nx_jetpack4_vdd_in_without_units() -> None:
    s = parse_line(XAVIER_NX_JP4)
    assert s is not None
    assert s.rails["VDD_IN"] == (4067.0, 4067.0) and s.total_power_mw == 4067.0
    assert s.gpu_load_pct == 62.0 and s.gpu_freq_mhz == 306
    assert s.cpu_freqs_mhz[-1] == 1267


def test_not_connected_channels_and_absent_sensors_are_dropped() -> None:
    # Source D: a public GitHub Go test (TegraCPU cases; repository not named by the search index), AGX Orin 64GB
    line = (
        "04-11-2025 10:36:27 RAM 4321/62801MB (lfb 1759x4MB) SWAP 19/31400MB (cached 0MB) CPU [0%@729,0%@729,"
        "0%@729,0%@729,0%@729,0%@729,0%@729,0%@729,0%@729,0%@729,0%@729,0%@729] EMC_FREQ 0%@2133 GR3D_FREQ 0%@[0,0]"
        " VIC_FREQ 729 APE 174 CV0@-256C CPU@44.562C Tboard@32C SOC2@40.093C Tdiode@33C SOC0@41.093C CV1@-256C"
        " GPU@-256C tj@44.343C SOC1@41.25C CV2@-256C VDD_GPU_SOC 2340mW/2340mW VDD_CPU_CV 390mW/390mW"
        " VIN_SYS_5V0 4025mW/4025mW NC 0mW/0mW VDDQ_VDD2_1V8AO 301mW/301mW NC 0mW/0mW"
    )
    s = parse_line(line)
    assert s is not None
    assert "NC" not in s.rails and s.rails["VDDQ_VDD2_1V8AO"] == (301.0, 301.0)
    assert "CV0" not in s.temps_c and "GPU" not in s.temps_c  # -256C = sensor absent
    assert s.temps_c["tj"] == 44.343


def test_malformed_lines_are_skipped_and_counted() -> None:
    lines = [
        ORIN_NANO_JP6,
        "",  # blank: ignored, not counted
        "garbage \x00\xff not tegrastats",
        "[sudo] password for ubuntu:",
        "CPU [0%@729,16%@729,0%@729,0%@729,0%@729,0%@729]",  # a grep fragment: no RAM, no rail
        "VDD_IN abcmW/12mW GR3D_FREQ x%",
        "RAM x/yMB VDD_IN -5mW/-5mW",
        "\n",
        AGX_XAVIER_JP4,
        "RAM 2258/7620MB (lfb 3x4MB",  # truncated, but RAM is readable: kept (no power)
    ]
    samples, skipped = parse_lines(lines)
    assert skipped == 5
    assert len(samples) == 3
    assert samples[2].rails == {} and samples[2].total_power_mw is None and samples[2].ram_used_mb == 2258


def _at(t: float, mw: float) -> TegrastatsSample:
    return TegrastatsSample(rails={"VDD_IN": (mw, mw)}, t=t)


def test_energy_trapezoid_hand_computed() -> None:
    samples = [_at(0.0, 1000.0), _at(1.0, 3000.0), _at(2.0, 3000.0)]
    # 0..1 s: (1000+3000)/2 * 1 = 2000 mJ; 1..2 s: 3000 mJ
    assert energy_mj(samples, 0.0, 2.0) == pytest.approx(5000.0)
    # window inside: 0.5..1.5 s: power(0.5) = 2000; (2000+3000)/2*0.5 + 3000*0.5 = 1250 + 1500 = 2750 mJ
    assert energy_mj(samples, 0.5, 1.5) == pytest.approx(2750.0)
    # outside the sampled range power is held: -1..0 s at 1000 mW = 1000 mJ extra
    assert energy_mj(samples, -1.0, 2.0) == pytest.approx(6000.0)
    assert energy_mj(list(reversed(samples)), 0.0, 2.0) == pytest.approx(5000.0)  # order does not matter
    assert energy_mj(samples, 1.0, 1.0) == 0.0
    assert energy_mj([], 0.0, 1.0) is None
    assert energy_mj([TegrastatsSample(rails={"VDD_IN": (5.0, 5.0)})], 0.0, 1.0) is None  # no times
    with pytest.raises(ValueError):
        energy_mj(samples, 2.0, 1.0)


def test_energy_of_one_rail() -> None:
    a = TegrastatsSample(rails={"VDD_IN": (4000.0, 0.0), "VDD_SOC": (1000.0, 0.0)}, t=10.0)
    b = TegrastatsSample(rails={"VDD_IN": (6000.0, 0.0), "VDD_SOC": (2000.0, 0.0)}, t=12.0)
    assert energy_mj([a, b], 10.0, 12.0) == pytest.approx(10000.0)
    assert energy_mj([a, b], 10.0, 12.0, rail="VDD_SOC") == pytest.approx(3000.0)


FAKE_TEGRASTATS = """#!{python}
# Stand-in for the device's /usr/bin/tegrastats: prints canned real lines (and one bad line) at --interval.
import sys, time
args = sys.argv[1:]
interval = int(args[args.index("--interval") + 1]) / 1000.0
lines = {lines!r}
out = sys.stdout
if "--logfile" in args:
    out = open(args[args.index("--logfile") + 1], "a")
for line in lines:
    out.write(line + "\\n"); out.flush(); time.sleep(interval)
while True:  # like the real tool: runs until stopped
    time.sleep(0.05)
"""


def _install_fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "tegrastats"
    exe.write_text(FAKE_TEGRASTATS.format(python=sys.executable, lines=[ORIN_NANO_JP6, "not a tegrastats line",
                                                                         XAVIER_NX_JP512, ORIN_NX_JP5]))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def _wait_for(sampler: TegrastatsSampler, n: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while len(sampler.samples()) < n and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.mark.parametrize("use_logfile", [False, True])
def test_sampler_with_fake_tegrastats_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, use_logfile: bool
) -> None:
    """The sampler runs `tegrastats` from PATH; here that is a stand-in script printing canned REAL lines.

    The stand-in is acceptable because what is under test is our process handling, threading, timing and
    parsing -- not tegrastats itself, which exists only on a Jetson.
    """
    _install_fake(tmp_path, monkeypatch)
    sampler = TegrastatsSampler(interval_ms=20, logfile=tmp_path / "t.log" if use_logfile else None)
    t_start = time.monotonic()
    sampler.start()
    _wait_for(sampler, 3)
    samples = sampler.stop()
    t_end = time.monotonic()
    assert [s.total_power_mw for s in samples] == [4046.0, 2763.0, 5299.0]
    assert sampler.skipped == 1
    times = [s.t for s in samples]
    assert all(t is not None and t_start <= t <= t_end for t in times)
    assert times == sorted(times)
    mj = energy_mj(samples, times[0], times[-1])
    assert mj is not None and 2763.0 * (times[-1] - times[0]) <= mj <= 5299.0 * (times[-1] - times[0])


def test_sampler_context_manager_and_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_fake(tmp_path, monkeypatch)
    with TegrastatsSampler(interval_ms=10) as sampler:
        assert sampler.command() == ["tegrastats", "--interval", "10"]
        _wait_for(sampler, 1)
    assert sampler.samples()[0].rails["VDD_IN"] == (4046.0, 4236.0)
    assert TegrastatsSampler(logfile="x.log").command()[-2:] == ["--logfile", "x.log"]


def test_sampler_without_tegrastats_is_a_clear_error(tmp_path: Path) -> None:
    sampler = TegrastatsSampler(executable=str(tmp_path / "no-such-tegrastats"))
    with pytest.raises(MissingDependencyError, match="tegrastats"):
        sampler.start()
    with pytest.raises(ValueError):
        TegrastatsSampler(interval_ms=0)
