"""Can GroupNorm stay in ONNX Runtime's blocked (NCHWc) layout? (edgeseg/study/groupnorm_layout.py)"""
from edgeseg.study.groupnorm_layout import main

raise SystemExit(main())
