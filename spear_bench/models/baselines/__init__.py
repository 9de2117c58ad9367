"""Baseline encoders (WavLM, Dasheng, USAD): each registers its ModelBundle here.

Every builder is ``build_<name>(path=None, seed=0, **overrides)``: random init (seeded)
without a path, the released weights from a local path otherwise; ``overrides`` change
the size for tests. The facts behind each model are in its module's docstring and in
docs/upstreams.md.
"""

from spear_bench.models.registry import ModelBundle, register

BASELINES = (
    ModelBundle(
        "wavlm_base_plus",
        "wavlm",
        "WavLM Base+ (transformers WavLMModel, 12 x 768, 50 Hz)",
        "spear_bench.models.baselines.wavlm:build_wavlm_base_plus",
        16000,
        50.0,
    ),
    ModelBundle(
        "wavlm_large",
        "wavlm",
        "WavLM Large (transformers WavLMModel, 24 x 1024, 50 Hz)",
        "spear_bench.models.baselines.wavlm:build_wavlm_large",
        16000,
        50.0,
    ),
    ModelBundle(
        "dasheng_base",
        "dasheng",
        "Dasheng base (dasheng package, 12 x 768, 25 Hz)",
        "spear_bench.models.baselines.dasheng:build_dasheng_base",
        16000,
        25.0,
    ),
    ModelBundle(
        "dasheng_0_6b",
        "dasheng",
        "Dasheng 0.6B (dasheng package, 32 x 1280, 25 Hz)",
        "spear_bench.models.baselines.dasheng:build_dasheng_0_6b",
        16000,
        25.0,
    ),
    ModelBundle(
        "dasheng_1_2b",
        "dasheng",
        "Dasheng 1.2B (dasheng package, 40 x 1536, 25 Hz)",
        "spear_bench.models.baselines.dasheng:build_dasheng_1_2b",
        16000,
        25.0,
    ),
    ModelBundle(
        "usad_base",
        "usad",
        "USAD Base (reconstructed from the release's config, 12 x 768, 50 Hz)",
        "spear_bench.models.baselines.usad:build_usad_base",
        16000,
        50.0,
    ),
    ModelBundle(
        "usad_large",
        "usad",
        "USAD Large (reconstructed from the release's config, 24 x 1024, 50 Hz)",
        "spear_bench.models.baselines.usad:build_usad_large",
        16000,
        50.0,
    ),
)

for _bundle in BASELINES:
    register(_bundle)
