"""A/B: PyTorch U-Net vs SD-UNet timed isolated and interleaved (edgeseg/study/timing_ab.py)."""
from edgeseg.study.timing_ab import main

raise SystemExit(main())
