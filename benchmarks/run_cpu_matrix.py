"""The committed CPU matrix: every network x ORT FP32/FP16/INT8 x PyTorch (edgeseg/study/cpu_matrix.py)."""
from edgeseg.study.cpu_matrix import main

raise SystemExit(main())
