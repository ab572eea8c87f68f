"""How far from the physical limit: roofline profiles of ONNX artifacts on this CPU, and spec-sheet bounds on
edge devices.

* `costs`: FLOPs and bytes per node from the graph's shapes; `roofline`: the bound arithmetic;
* `ceilings`: this machine's GEMM and bandwidth ceilings, measured; `trace`: ORT profiler times mapped back to
  the exported graph; `profiler` / `output`: the profile, its Markdown table and roofline plot;
* `devices`: Jetson Orin and Raspberry Pi 5 ceilings with their sources, and best-case latency bounds there.

(Not `benchmarks/profile_ops.py`, the op-share and NCHWc-reorder table; this package reuses nothing from it.)
"""
