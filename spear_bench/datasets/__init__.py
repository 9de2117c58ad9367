"""The data on disk: where each suite's corpora are published, checking a data root against them,
fetching the HEAR task archives, and making a HEAR task's audio at the rate a model reads.

No model loads here and no runner runs: this package sits below ``bench/`` (whose HEAR reader
calls :func:`spear_bench.datasets.hear_resample.audio_root_at`); what needs a runner (the
SUPERB recipe check, the run plan) is joined to it by the CLI. docs/data.md.
"""
