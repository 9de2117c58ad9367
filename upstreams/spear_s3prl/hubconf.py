"""s3prl hub entries for SPEAR and the baselines.

``spear_bench.upstreams.register()`` sets each of these on ``s3prl.hub``, after which
``s3prl.nn.S3PRLUpstream("spear_base")`` and s3prl's runners (``-u spear_base``) find
them. Each entry takes s3prl's ``ckpt`` (local weights; random init without it),
``model_config`` (optional yaml/json: ``seed``, ``overrides``) and ``refresh`` (ignored:
nothing is downloaded), plus keyword arguments (``seed``, size overrides for tests).
Baselines carry the ``spear_bench_`` prefix so they never shadow s3prl's own ``wavlm_*``.
A test (tests/test_upstreams_s3prl.py) checks that this list matches the model registry.
"""

from spear_bench.upstreams import hub_entries, make_hub_entry

_ENTRIES = hub_entries()

spear_base = make_hub_entry(_ENTRIES["spear_base"])
spear_large = make_hub_entry(_ENTRIES["spear_large"])
spear_xlarge = make_hub_entry(_ENTRIES["spear_xlarge"])
spear_tiny = make_hub_entry(_ENTRIES["spear_tiny"])  # test/demo size
spear_local = make_hub_entry(_ENTRIES["spear_local"])

spear_bench_wavlm_base_plus = make_hub_entry(_ENTRIES["spear_bench_wavlm_base_plus"])
spear_bench_wavlm_large = make_hub_entry(_ENTRIES["spear_bench_wavlm_large"])
spear_bench_dasheng_base = make_hub_entry(_ENTRIES["spear_bench_dasheng_base"])
spear_bench_dasheng_0_6b = make_hub_entry(_ENTRIES["spear_bench_dasheng_0_6b"])
spear_bench_dasheng_1_2b = make_hub_entry(_ENTRIES["spear_bench_dasheng_1_2b"])
spear_bench_usad_base = make_hub_entry(_ENTRIES["spear_bench_usad_base"])
spear_bench_usad_large = make_hub_entry(_ENTRIES["spear_bench_usad_large"])
spear_bench_hubert_large = make_hub_entry(_ENTRIES["spear_bench_hubert_large"])

# Entries of models registered after this list was written are made from the registry.
globals().update({name: make_hub_entry(entry) for name, entry in _ENTRIES.items() if name not in globals()})
