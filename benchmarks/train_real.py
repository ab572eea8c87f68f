"""Train the seed networks with ONE recipe on each real data set (edgeseg/study/train_real.py)."""
from edgeseg.study.train_real import main

raise SystemExit(main())
