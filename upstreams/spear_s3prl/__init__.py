"""s3prl hub entries for SPEAR and the baselines (hubconf.py) and their UpstreamExpert (expert.py)."""
