"""Names of the models in the paper's tables: canonical ids and display names.

The paper writes one model many ways ("Ours, SPEAR _{S+a} Large", "SPEAR _{s+a} , Large",
"WavLM Base + \\triangle", "Dasheng-Base"). :func:`model_id` maps a row label to one id
(``spear_sa_large``, ``wavlm_base_plus``, ``dasheng_base``); ids of our own registry's
models (``spear_base``...) are the measured names, and :data:`PAPER_COUNTERPART` says
which paper model each released checkpoint is.
"""

from __future__ import annotations

import re

from spear_bench.errors import SpearBenchError

# (pattern over the normalised label, id); first match wins, so specific patterns come first.
_LABEL_PATTERNS: list[tuple[str, str]] = [
    (r"SPEAR _\{?s\+a\}? ?(base|large|xlarge)", "spear_sa_{0}"),
    (r"SPEAR _s ?(base|large)", "spear_s_{0}"),
    (r"SPEAR _a ?(base|large)", "spear_a_{0}"),
    (r"SPEAR \(USAD-aligned\)", "spear_usad_aligned"),
    (r"WavLM Base ?\+", "wavlm_base_plus"),
    (r"WavLM (base|large)", "wavlm_{0}"),
    (r"HuBERT[- ](base|large)", "hubert_{0}"),
    (r"wav2vec 2\.0 (base|large)", "wav2vec2_{0}"),
    (r"USAD (base|large)", "usad_{0}"),
    (r"Dasheng[- ]base", "dasheng_base"),
    (r"Dasheng[- ](0\.6b|1\.2b)", "dasheng_{0}"),
    (r"BEATs", "beats"),
    (r"EAT", "eat"),
    (r"ATST[- ]frame", "atst_frame"),
    (r"FBANK", "fbank"),
    (r"LARGE-H-(\d)", "large_h_{0}"),
    (r"BASE-AUDIO-(\d)", "base_audio_{0}"),
]

DISPLAY_NAMES = {
    "spear_s_base": "SPEAR-s Base",
    "spear_s_large": "SPEAR-s Large",
    "spear_a_base": "SPEAR-a Base",
    "spear_a_large": "SPEAR-a Large",
    "spear_sa_base": "SPEAR-s+a Base",
    "spear_sa_large": "SPEAR-s+a Large",
    "spear_sa_xlarge": "SPEAR-s+a XLarge",
    "spear_usad_aligned": "SPEAR (USAD-aligned)",
    "wavlm_base": "WavLM Base",
    "wavlm_base_plus": "WavLM Base+",
    "wavlm_large": "WavLM Large",
    "hubert_base": "HuBERT Base",
    "hubert_large": "HuBERT Large",
    "wav2vec2_large": "wav2vec 2.0 Large",
    "usad_base": "USAD Base",
    "usad_large": "USAD Large",
    "dasheng_base": "Dasheng Base",
    "dasheng_0.6b": "Dasheng 0.6B",
    "dasheng_1.2b": "Dasheng 1.2B",
    "beats": "BEATs",
    "eat": "EAT",
    "atst_frame": "ATST-Frame",
    "fbank": "FBANK",
    "large_h_1": "LARGE-H-1",
    "large_h_2": "LARGE-H-2",
    "base_audio_1": "BASE-AUDIO-1",
    "base_audio_2": "BASE-AUDIO-2",
}

# Which paper model a measured name is: the architecture names (their own weights, NAME@FOLDER) are
# compared with the paper's dual-domain models; a released checkpoint (spear_bench/models/catalogue.py)
# with its paper row's id. Names missing here are their own id (wavlm_large, usad_base, dasheng_base ...)
# or have no paper row (the v2 releases). A NAME[random-init] has no paper counterpart.
PAPER_COUNTERPART = {
    "spear_base": "spear_sa_base",
    "spear_large": "spear_sa_large",
    "spear_xlarge": "spear_sa_xlarge",
    "spear_base_s": "spear_s_base",
    "spear_base_sa": "spear_sa_base",
    "spear_large_s": "spear_s_large",
    "spear_large_sa": "spear_sa_large",
    "spear_xlarge_sa": "spear_sa_xlarge",
    "dasheng_0_6b": "dasheng_0.6b",
    "dasheng_1_2b": "dasheng_1.2b",
}


def normalise_label(label: str) -> str:
    """The label without 'Ours, ', citations, the fine-tuned-checkpoint triangle and stray commas."""
    text = re.sub(r"\(\w[^()]*et al\.,? \d{4}\w?\)", "", label)
    text = text.replace("\\triangle", "").replace("Ours,", "")
    text = re.sub(r"\s*,\s*", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def model_id(label: str) -> str:
    """The canonical id of the model a paper row label names."""
    text = normalise_label(label)
    for pattern, template in _LABEL_PATTERNS:
        match = re.fullmatch(pattern, text, flags=re.IGNORECASE)
        if match:
            return template.format(*(g.lower() for g in match.groups()))
    raise SpearBenchError(
        f"paper row label {label!r}: no model id pattern matches (spear_bench/report/paper_models.py)"
    )


def display_name(model: str) -> str:
    return DISPLAY_NAMES.get(model, model)
