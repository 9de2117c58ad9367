"""s3prl's UpstreamExpert for every spear-bench model (SPEAR and the baselines).

The expert only adapts the interface; it lives in the library (spear_bench/upstreams.py)
so that the HEAR modules and the X-ARES adapter share the same encoders.
"""

from spear_bench.upstreams import UpstreamExpert

__all__ = ["UpstreamExpert"]
