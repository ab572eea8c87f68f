"""The claims campaign (plans/claims.toml) with its historic flags: edgeseg/study/claims_campaign.py."""
from edgeseg.study.claims_campaign import main

raise SystemExit(main())
