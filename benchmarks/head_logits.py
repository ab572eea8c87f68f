"""Why a campaign run never learned: its logits and head input (edgeseg/study/head_logits.py)."""
from edgeseg.study.head_logits import main

raise SystemExit(main())
