"""Jetson power and load from `tegrastats`: a line parser, a background sampler, and energy integration.

`tegrastats` prints one line per interval. The formats differ by JetPack and module (all handled here):

* JetPack 4 (no units):  ``... GPU 18401/18525 CPU 2301/2330 SOC 4602/4602 CV 0/0 VDDRQ 2914/2911 SYS5V 4632/4620``
* JetPack 5/6 (mW):      ``... VDD_IN 5299mW/5299mW VDD_CPU_GPU_CV 773mW/773mW VDD_SOC 1424mW/1424mW``
* AGX Orin (no VDD_IN):  ``... VDD_GPU_SOC 3205mW/3205mW VDD_CPU_CV 4405mW/4405mW VIN_SYS_5V0 4767mW/4767mW``
* optional leading timestamp ``MM-DD-YYYY HH:MM:SS`` (JetPack 5.1+), RAM/SWAP/CPU [..]/EMC_FREQ/GR3D_FREQ and
  temperatures such as ``cpu@45.5C`` or ``CPU@37.5C`` (``-256C`` means "sensor absent" and is dropped).

Each rail prints ``current/average`` (the average is since tegrastats started). Total board power is VDD_IN where
the module has it (Orin Nano/NX, Xavier NX, TX1/TX2), else VIN / POM_5V_IN (Thor, Nano), else the SUM of the
module's rails (AGX Xavier: GPU+CPU+SOC+CV+VDDRQ+SYS5V; AGX Orin: VDD_GPU_SOC+VDD_CPU_CV+VIN_SYS_5V0[+VDDQ...]).
That sum covers the module only, not the carrier board, so it reads lower than a meter at the DC jack; the
``power_source`` field of each sample says which rule was used so results can say what they measured.

Malformed lines are skipped and counted, never raised.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from edgeseg.errors import MissingDependencyError

__all__ = [
    "TegrastatsSample",
    "TegrastatsSampler",
    "board_power_mw",
    "energy_mj",
    "parse_line",
    "parse_lines",
]

# Board-input rails, in order of preference (VDD_IN: Orin Nano/NX, Xavier NX, TX1/TX2; VIN: Thor; POM_5V_IN: Nano).
TOTAL_RAILS = ("VDD_IN", "VIN", "POM_5V_IN")
# Names that look like "NAME a/b" but are not power rails, plus "NC" (not-connected INA3221 channels on AGX Orin).
_NOT_RAILS = {"RAM", "SWAP", "IRAM", "NC"}

_TIMESTAMP = re.compile(r"^\s*(\d{2}-\d{2}-\d{4} \d{2}:\d{2}:\d{2})\b")
_RAM = re.compile(r"\bRAM (\d+)/(\d+)MB\b")
_SWAP = re.compile(r"\bSWAP (\d+)/(\d+)MB\b")
_CPU = re.compile(r"\bCPU \[([^\]]*)\](?:@(\d+))?")
_CPU_CORE = re.compile(r"^(\d+)%(?:@(\d+))?$")
_GR3D = re.compile(r"\bGR3D_FREQ (\d+)%(?:@\[?(\d+)[\d,]*\]?)?")
_EMC = re.compile(r"\bEMC_FREQ (\d+)%(?:@(\d+))?")
# A rail: NAME current[mW]/average[mW] (JetPack 7 adds a third /value, ignored). The trailing \b keeps
# "RAM 2448/62840MB" out (MB follows the digits without a word boundary).
_RAIL = re.compile(r"\b([A-Z][A-Z0-9_]*) (\d+)(?:mW)?/(\d+)(?:mW)?(?:/\d+(?:mW)?)?\b")
# A temperature: name@value C; an optional "/value C" (JetPack 7 prints two values) is ignored.
_TEMP = re.compile(r"\b([A-Za-z][A-Za-z0-9_]*)@(-?\d+(?:\.\d+)?)C(?:/-?\d+(?:\.\d+)?C)?(?![\w.])")
_ABSENT_SENSOR_C = -256.0


@dataclass
class TegrastatsSample:
    """One parsed tegrastats line. `t` is a monotonic time in seconds set by the sampler (None when parsed offline)."""

    rails: dict[str, tuple[float, float]]  # name -> (current_mW, average_mW)
    timestamp: datetime | None = None
    ram_used_mb: int | None = None
    ram_total_mb: int | None = None
    swap_used_mb: int | None = None
    swap_total_mb: int | None = None
    cpu_loads: list[float | None] = field(default_factory=list)  # percent per core; None = core off
    cpu_freqs_mhz: list[int | None] = field(default_factory=list)
    gpu_load_pct: float | None = None  # GR3D_FREQ percent
    gpu_freq_mhz: int | None = None
    emc_load_pct: float | None = None
    emc_freq_mhz: int | None = None
    temps_c: dict[str, float] = field(default_factory=dict)
    t: float | None = None
    raw: str = ""

    @property
    def total_power_mw(self) -> float | None:
        """Board power now (mW): VDD_IN/VIN/POM_5V_IN where present, else the sum of the rails (module only)."""
        return board_power_mw(self.rails)[0]

    @property
    def power_source(self) -> str | None:
        """Which rule gave `total_power_mw`: a rail name, "sum(A+B+...)", or None without rails."""
        return board_power_mw(self.rails)[1]


def board_power_mw(rails: dict[str, tuple[float, float]]) -> tuple[float | None, str | None]:
    """(current board power in mW, how it was obtained); see the module docstring for the rule."""
    for name in TOTAL_RAILS:
        if name in rails:
            return rails[name][0], name
    if not rails:
        return None, None
    return float(sum(cur for cur, _ in rails.values())), "sum(" + "+".join(rails) + ")"


def parse_line(line: str) -> TegrastatsSample | None:
    """Parse one tegrastats line; None when it is not one (empty, truncated, garbage). Never raises."""
    try:
        return _parse(line)
    except (ValueError, TypeError, IndexError):  # a defensive net: odd numbers must not stop a benchmark
        return None


def _parse(line: str) -> TegrastatsSample | None:
    text = line.strip()
    if not text:
        return None
    rails: dict[str, tuple[float, float]] = {}
    for name, cur, avg in _RAIL.findall(text):
        if name not in _NOT_RAILS:
            rails[name] = (float(cur), float(avg))
    ram = _RAM.search(text)
    # A line is a sample only with RAM or at least one rail: anything else is noise (e.g. a sudo prompt).
    if ram is None and not rails:
        return None
    sample = TegrastatsSample(rails=rails, raw=text)
    if ram:
        sample.ram_used_mb, sample.ram_total_mb = int(ram.group(1)), int(ram.group(2))
    if ts := _TIMESTAMP.match(text):
        sample.timestamp = datetime.strptime(ts.group(1), "%m-%d-%Y %H:%M:%S")
    if swap := _SWAP.search(text):
        sample.swap_used_mb, sample.swap_total_mb = int(swap.group(1)), int(swap.group(2))
    if cpu := _CPU.search(text):
        shared_freq = int(cpu.group(2)) if cpu.group(2) else None  # old format: CPU [x%,y%]@MHz
        for core in cpu.group(1).split(","):
            core = core.strip()
            if m := _CPU_CORE.match(core):
                sample.cpu_loads.append(float(m.group(1)))
                sample.cpu_freqs_mhz.append(int(m.group(2)) if m.group(2) else shared_freq)
            elif core == "off":
                sample.cpu_loads.append(None)
                sample.cpu_freqs_mhz.append(None)
    if gr3d := _GR3D.search(text):
        sample.gpu_load_pct = float(gr3d.group(1))
        sample.gpu_freq_mhz = int(gr3d.group(2)) if gr3d.group(2) else None
    if emc := _EMC.search(text):
        sample.emc_load_pct = float(emc.group(1))
        sample.emc_freq_mhz = int(emc.group(2)) if emc.group(2) else None
    for name, value in _TEMP.findall(text):
        celsius = float(value)
        if celsius > _ABSENT_SENSOR_C:
            sample.temps_c[name] = celsius
    return sample


def parse_lines(lines: Iterable[str]) -> tuple[list[TegrastatsSample], int]:
    """Parse many lines: (samples, number of lines skipped as malformed). Blank lines are not counted."""
    samples: list[TegrastatsSample] = []
    skipped = 0
    for line in lines:
        if not line.strip():
            continue
        sample = parse_line(line)
        if sample is None:
            skipped += 1
        else:
            samples.append(sample)
    return samples, skipped


def _power_of(sample: TegrastatsSample, rail: str | None) -> float | None:
    if rail is None:
        return sample.total_power_mw
    value = sample.rails.get(rail)
    return value[0] if value else None


def energy_mj(samples: Sequence[TegrastatsSample], t0: float, t1: float, rail: str | None = None) -> float | None:
    """Energy (mJ) between monotonic times t0 and t1 (s) of the timed samples' board power (or one `rail`),
    by `edgeseg.power.trapezoid_mj` (the one integrator: interpolated between samples, held at the ends;
    ValueError when t1 < t0). None when no sample carries a time and the chosen power.
    """
    from edgeseg.power import trapezoid_mj

    points = [(s.t, p) for s in samples if s.t is not None and (p := _power_of(s, rail)) is not None]
    return trapezoid_mj(points, t0, t1)


class TegrastatsSampler:
    """Run `tegrastats --interval MS` in a subprocess and collect parsed samples in a background thread.

    Each sample gets `t = time.monotonic()` when its line arrives, so `energy_mj(samples, t0, t1)` works with
    t0/t1 taken from `time.monotonic()` around the timed loop. With `logfile=PATH` tegrastats writes to that
    file (`--logfile PATH`) and the thread follows it; use this if the stdout pipe turns out to be buffered
    on a device. Usage::

        sampler = TegrastatsSampler(interval_ms=50); sampler.start()
        t0 = time.monotonic(); run(); t1 = time.monotonic()
        samples = sampler.stop(); mj = energy_mj(samples, t0, t1)
    """

    def __init__(
        self,
        interval_ms: int = 100,
        executable: str = "tegrastats",
        logfile: str | os.PathLike[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval_ms <= 0:
            raise ValueError(f"tegrastats interval must be > 0 ms, got {interval_ms}")
        self.interval_ms = int(interval_ms)
        self.executable = executable
        self.logfile = os.fspath(logfile) if logfile is not None else None
        self.clock = clock
        self.skipped = 0
        self._samples: list[TegrastatsSample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._proc: subprocess.Popen[str] | None = None
        self._thread: threading.Thread | None = None

    def command(self) -> list[str]:
        cmd = [self.executable, "--interval", str(self.interval_ms)]
        if self.logfile is not None:
            cmd += ["--logfile", self.logfile]
        return cmd

    def start(self) -> TegrastatsSampler:
        if self._proc is not None:
            raise RuntimeError("TegrastatsSampler already started")
        if self.logfile is not None and os.path.exists(self.logfile):
            os.remove(self.logfile)  # tegrastats appends; a stale log would mix runs
        try:
            self._proc = subprocess.Popen(
                self.command(),
                stdout=subprocess.PIPE if self.logfile is None else subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,
                bufsize=1,
            )
        except FileNotFoundError as e:
            raise MissingDependencyError(
                f"{self.executable}: not found; tegrastats ships with JetPack on Jetson devices "
                "(use --power none or nvml elsewhere)"
            ) from e
        target = self._read_pipe if self.logfile is None else self._follow_file
        self._thread = threading.Thread(target=target, name="tegrastats-reader", daemon=True)
        self._thread.start()
        return self

    def _add(self, line: str) -> None:
        if not line.strip():
            return
        sample = parse_line(line)
        with self._lock:
            if sample is None:
                self.skipped += 1
            else:
                sample.t = self.clock()
                self._samples.append(sample)

    def _read_pipe(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            self._add(line)

    def _follow_file(self) -> None:
        assert self.logfile is not None
        pending = ""
        handle = None
        while True:
            stopping = self._stop.is_set()  # read once more after stop so the last lines are kept
            if handle is None and os.path.exists(self.logfile):
                handle = open(self.logfile, encoding="utf-8", errors="replace")  # noqa: SIM115 - closed below
            if handle is not None:
                pending += handle.read()
                *lines, pending = pending.split("\n")
                for line in lines:
                    self._add(line)
            if stopping:
                break
            self._stop.wait(min(self.interval_ms / 1000.0, 0.05))
        if handle is not None:
            if pending.strip():  # a line without its newline was cut off mid-write: count it, don't trust it
                with self._lock:
                    self.skipped += 1
            handle.close()

    def samples(self) -> list[TegrastatsSample]:
        """The samples so far (a copy), while running or after stop()."""
        with self._lock:
            return list(self._samples)

    def stop(self) -> list[TegrastatsSample]:
        """Stop tegrastats, wait for the reader, and return all samples."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()
        return self.samples()

    def __enter__(self) -> TegrastatsSampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
