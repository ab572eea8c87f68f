"""FP32 vs FP16 vs INT8 in ONNX Runtime on the networks trained on a real set (edgeseg/study/precision.py)."""
from edgeseg.study.precision import main

raise SystemExit(main())
