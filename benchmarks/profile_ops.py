"""ONNX Runtime CPU op profile and NCHWc reorders per network (edgeseg/study/op_profile.py)."""
from edgeseg.study.op_profile import main

raise SystemExit(main())
