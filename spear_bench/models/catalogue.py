"""Released weights: where each registered model's published checkpoint lives, and what it must be.

:data:`CATALOGUE` maps a registered name to its :class:`CatalogueEntry` (source, pinned revision,
parameter count, the paper's model it is). Reading a name is :mod:`spear_bench.models.model_ref`;
fetching, verifying and fingerprinting weights is :mod:`spear_bench.models.weights`; the report's
paper ids are :data:`spear_bench.report.paper_models.PAPER_COUNTERPART`.

Facts (repo ids, sizes, paper rows): shared SPEAR facts (the model cards
``marcoyang/spear-{base,large,xlarge}-speech[-audio][-v2]``), the paper (Tables 1, 2, 8), the
WavLM / USAD model cards and the ``dasheng`` package (0.0.9) ``PRETRAINED_CHECKPOINTS``.
Parameter counts are those of this project's architecture for the size (counted, see
docs/models.md and docs/upstreams.md); USAD's released code is its own, so its count is
checked within a tolerance around the Hub's listing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from spear_bench.models.model_ref import RANDOM_INIT_SUFFIX


@dataclass(frozen=True)
class CatalogueEntry:
    """Where a registered name's published weights live, and what they must be."""

    name: str  # registered model name
    family: str  # spear | wavlm | dasheng | usad
    size: str  # the architecture the weights must fit: a registry name (spear_base, wavlm_large ...)
    source: str  # "hf" (Hugging Face Hub repo) | "dasheng" (the dasheng package's URL)
    repo_id: str  # Hub repo id, or the download URL for "dasheng"
    revision: str | None  # pinned commit where known; None: the repo's main branch
    parameters: int  # expected parameter count of the loaded encoder
    paper_row: str  # which model of the paper it is (shown by `spear-bench models`)
    parameter_tolerance: float = 0.0  # relative; 0: exact

    @property
    def where(self) -> str:
        if self.source == "hf":
            return f"hf:{self.repo_id}" + (f"@{self.revision[:8]}" if self.revision else "")
        return f"dasheng package: {Path(urlparse(self.repo_id).path).name}"


_SPEAR_PARAMS = {"spear_base": 93_289_363, "spear_large": 326_951_346, "spear_xlarge": 596_973_236}


def _spear(name: str, size: str, repo: str, paper_row: str, revision: str | None = None) -> CatalogueEntry:
    return CatalogueEntry(name, "spear", size, "hf", repo, revision, _SPEAR_PARAMS[size], paper_row)


_DASHENG_URL = "https://zenodo.org/records/11511780/files/{}.pt?download=1"

CATALOGUE: dict[str, CatalogueEntry] = {
    e.name: e
    for e in (
        _spear("spear_base_s", "spear_base", "marcoyang/spear-base-speech", "SPEAR-s Base, Speech-84k"),
        _spear(
            "spear_base_sa",
            "spear_base",
            "marcoyang/spear-base-speech-audio",
            "SPEAR-s+a Base, SA-97k",
        ),
        _spear(
            "spear_base_s_v2", "spear_base", "marcoyang/spear-base-speech-v2", "SPEAR-s Base, Speech-84k (v2 release)"
        ),
        _spear(
            "spear_base_sa_v2",
            "spear_base",
            "marcoyang/spear-base-speech-audio-v2",
            "SPEAR-s+a Base, SA-97k (v2 release: token mixing)",
        ),
        # The commit that uploaded config.json + model.safetensors (the model card's history).
        _spear(
            "spear_large_s",
            "spear_large",
            "marcoyang/spear-large-speech",
            "SPEAR-s Large, Speech-84k",
            revision="75d5f67c95b5f6de897e2137d438947c6e01e6fa",
        ),
        _spear(
            "spear_large_sa",
            "spear_large",
            "marcoyang/spear-large-speech-audio",
            "SPEAR-s+a Large, SA-97k",
        ),
        _spear(
            "spear_xlarge_sa",
            "spear_xlarge",
            "marcoyang/spear-xlarge-speech-audio",
            "SPEAR-s+a XLarge, SA-197k",
        ),
        CatalogueEntry(
            "wavlm_base_plus",
            "wavlm",
            "wavlm_base_plus",
            "hf",
            "microsoft/wavlm-base-plus",
            None,
            94_381_936,
            "WavLM Base+ (94k h)",
        ),
        CatalogueEntry(
            "wavlm_large",
            "wavlm",
            "wavlm_large",
            "hf",
            "microsoft/wavlm-large",
            None,
            315_453_120,
            "WavLM Large (94k h)",
        ),
        CatalogueEntry(
            "dasheng_base",
            "dasheng",
            "dasheng_base",
            "dasheng",
            _DASHENG_URL.format("dasheng_base"),
            None,
            85_447_808,
            "Dasheng Base (272k h)",
        ),
        CatalogueEntry(
            "dasheng_0_6b",
            "dasheng",
            "dasheng_0_6b",
            "dasheng",
            _DASHENG_URL.format("dasheng_06b"),
            None,
            630_333_568,
            "Dasheng 0.6B (272k h)",
        ),
        CatalogueEntry(
            "dasheng_1_2b",
            "dasheng",
            "dasheng_1_2b",
            "dasheng",
            _DASHENG_URL.format("dasheng_12b"),
            None,
            1_134_047_360,
            "Dasheng 1.2B (272k h)",
        ),
        # USAD's released code is not this project's reconstruction: its count is checked within 5 % of the Hub listing.
        CatalogueEntry(
            "usad_base",
            "usad",
            "usad_base",
            "hf",
            "MIT-SLS/USAD-Base",
            None,
            97_200_000,
            "USAD Base",
            parameter_tolerance=0.05,
        ),
        CatalogueEntry(
            "usad_large",
            "usad",
            "usad_large",
            "hf",
            "MIT-SLS/USAD-Large",
            None,
            330_000_000,
            "USAD Large",
            parameter_tolerance=0.05,
        ),
    )
}


def catalogue_entry(name: str) -> CatalogueEntry | None:
    return CATALOGUE.get(name)


def released_variants(size: str) -> list[str]:
    """Catalogued names whose weights fit the architecture ``size`` (spear_base -> spear_base_s, spear_base_sa ...)."""
    return [e.name for e in CATALOGUE.values() if e.size == size]


def no_published_weights(name: str) -> str:
    variants = released_variants(name)
    also = f"name a released variant ({', '.join(variants)}), " if variants else ""
    return (
        f"{name} has no published weights of its own: {also}give local weights as {name}@FOLDER, "
        f"or ask for random weights with {name}{RANDOM_INIT_SUFFIX}"
    )
