"""The generated demo corpora, in one place: small, deterministic, in the real on-disk layouts.

- :mod:`.generate`: :func:`~spear_bench.demo.generate.generate_demo_data`, the one entry point (every
  corpus of the demo suites under one root, reused when complete);
- :mod:`.hear_tasks`: the HEAR task folders (hearpreprocess's layout);
- :mod:`.superb_corpora`: the SUPERB corpora s3prl's ``s3prl.problem`` recipes read;
- :mod:`.common`: what they share (clip lengths, file ids, the spoken words).
"""
