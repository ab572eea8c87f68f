"""What plans/papers-budget.toml costs: an ESTIMATE from the claims campaign (edgeseg/study/budget_estimate.py)."""
from edgeseg.study.budget_estimate import main

raise SystemExit(main())
