"""Released weights by name: where each registered model's published checkpoint lives, and how a name is read.

Three ways to name weights, parsed by :meth:`ModelRef.parse` (the one parser every command uses):

- ``NAME``: the published checkpoint of a catalogued name (``spear_base_sa``, ``wavlm_large``
  ...), downloaded once through ``huggingface_hub`` (standard cache, ``HF_HOME``,
  ``HF_HUB_OFFLINE``, tokens) or, for Dasheng, the ``dasheng`` package's own URLs (torch hub
  cache), verified (config matches the family, strict loading, parameter count), then loaded
  by the same checkpoint loader as a local folder. A name without published weights
  (``spear_base``: an architecture, ``spear_tiny``) is an error saying what to write instead.
- ``NAME@WEIGHTS``: local weights (a folder or a file).
- ``NAME[random-init]``: random initialisation, only on request; the label
  ``NAME[random-init]`` is the model's name in results, reports and plots.

Facts (repo ids, sizes, paper rows): shared SPEAR facts (the model cards
``marcoyang/spear-{base,large,xlarge}-speech[-audio][-v2]``), the paper (Tables 1, 2, 8), the
WavLM / USAD model cards and the ``dasheng`` package (0.0.9) ``PRETRAINED_CHECKPOINTS``.
Parameter counts are those of this project's architecture for the size (counted, see
docs/models.md and docs/upstreams.md); USAD's released code is its own, so its count is
checked within a tolerance around the Hub's listing.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch

from spear_bench.errors import CheckpointError, ConfigError
from spear_bench.hashing import file_hash
from spear_bench.models.registry import ALIASES, get_bundle, is_registered, model_names

HEAR_MODULE_PREFIX = "hear:"
RANDOM_INIT = "random-init"
RANDOM_INIT_SUFFIX = f"[{RANDOM_INIT}]"
# Files a Hub snapshot needs: the checkpoint loaders read config + weights (+ USAD's remote code).
HUB_FILES = ("config.json", "preprocessor_config.json", "model.safetensors", "pytorch_model.bin", "*.py")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")


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
    paper_row: str  # which model of the paper it is
    paper_id: str = (
        ""  # the paper row's id in the report (spear_bench/report/paper_models.py); "" when not in the paper
    )
    parameter_tolerance: float = 0.0  # relative; 0: exact

    @property
    def where(self) -> str:
        if self.source == "hf":
            return f"hf:{self.repo_id}" + (f"@{self.revision[:8]}" if self.revision else "")
        return f"dasheng package: {Path(urlparse(self.repo_id).path).name}"


_SPEAR_PARAMS = {"spear_base": 93_289_363, "spear_large": 326_951_346, "spear_xlarge": 596_973_236}


def _spear(
    name: str, size: str, repo: str, paper_row: str, paper_id: str = "", revision: str | None = None
) -> CatalogueEntry:
    return CatalogueEntry(name, "spear", size, "hf", repo, revision, _SPEAR_PARAMS[size], paper_row, paper_id)


_DASHENG_URL = "https://zenodo.org/records/11511780/files/{}.pt?download=1"

CATALOGUE: dict[str, CatalogueEntry] = {
    e.name: e
    for e in (
        _spear("spear_base_s", "spear_base", "marcoyang/spear-base-speech", "SPEAR-s Base, Speech-84k", "spear_s_base"),
        _spear(
            "spear_base_sa",
            "spear_base",
            "marcoyang/spear-base-speech-audio",
            "SPEAR-s+a Base, SA-97k",
            "spear_sa_base",
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
            "spear_s_large",
            revision="75d5f67c95b5f6de897e2137d438947c6e01e6fa",
        ),
        _spear(
            "spear_large_sa",
            "spear_large",
            "marcoyang/spear-large-speech-audio",
            "SPEAR-s+a Large, SA-97k",
            "spear_sa_large",
        ),
        _spear(
            "spear_xlarge_sa",
            "spear_xlarge",
            "marcoyang/spear-xlarge-speech-audio",
            "SPEAR-s+a XLarge, SA-197k",
            "spear_sa_xlarge",
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
            "wavlm_base_plus",
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
            "wavlm_large",
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
            "dasheng_base",
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
            "dasheng_0.6b",
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
            "dasheng_1.2b",
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
            "usad_base",
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
            "usad_large",
            parameter_tolerance=0.05,
        ),
    )
}


def catalogue_entry(name: str) -> CatalogueEntry | None:
    return CATALOGUE.get(name)


def released_variants(size: str) -> list[str]:
    """Catalogued names whose weights fit the architecture ``size`` (spear_base -> spear_base_s, spear_base_sa ...)."""
    return [e.name for e in CATALOGUE.values() if e.size == size]


# --------------------------------------------------------------------------------------------- names


_REF = re.compile(r"(?P<name>[^\[\]@]+?)\s*(?:\[(?P<option>[^\]]*)\])?")


@dataclass(frozen=True)
class ModelRef:
    """A parsed model name: ``NAME``, ``NAME@WEIGHTS``, ``NAME[random-init]``, ``hear:MODULE[@WEIGHTS]``,
    or (where a command takes one) a SPEAR checkpoint path.

    ``name`` is the registered name (aliases resolved), the HEAR module, or "" for a
    checkpoint path (``weights`` is the path; its config.json decides the size); ``label``
    is the model's name in results (``NAME[random-init]`` for random weights).
    """

    name: str
    weights: str | None = None
    random_init: bool = False
    hear: bool = False
    text: str = ""
    checkpoint: bool = False

    @classmethod
    def parse(cls, spec: str, *, family_prefix: str = "", checkpoint_paths: bool = False) -> "ModelRef":
        """``spec`` as a model reference; a one-line ConfigError says what is wrong with it.

        ``family_prefix`` (``wavlm_`` ...): the family's short names come first (``large`` ->
        ``wavlm_large``). ``checkpoint_paths``: a plain existing path that names no registered
        model is a SPEAR checkpoint (``ref.checkpoint``), and anything else unregistered is an error
        naming both possibilities.
        """
        text = str(spec).strip()
        if checkpoint_paths:
            if "@" not in text and "[" not in text and not is_registered(text) and Path(text).exists():
                return cls("", text, False, False, text, checkpoint=True)
            if not is_registered(text.partition("@")[0].partition("[")[0].strip()):
                known = ", ".join(sorted(ALIASES) + model_names())
                raise ConfigError(f"{text!r} is neither a known model ({known}) nor an existing checkpoint path")
        target, at, path = text.partition("@")
        target = target.strip()
        if at and not path.strip():
            raise ConfigError(f"model {text!r}: give the weights after '@' (NAME@FOLDER or NAME@FILE)")
        weights = path.strip() or None
        if target.startswith(HEAR_MODULE_PREFIX):
            module = target[len(HEAR_MODULE_PREFIX) :].strip()
            if not module:
                raise ConfigError(f"model {text!r}: give a module after 'hear:'")
            return cls(module, weights, False, True, text)
        match = _REF.fullmatch(target)
        if not match:
            raise ConfigError(f"model {text!r}: expected NAME, NAME@WEIGHTS or NAME{RANDOM_INIT_SUFFIX}")
        option = match["option"]
        if option is not None and option.strip() != RANDOM_INIT:
            raise ConfigError(f"model {text!r}: unknown option [{option}] (the only one is {RANDOM_INIT_SUFFIX})")
        random_init = option is not None
        if random_init and weights:
            raise ConfigError(f"model {text!r}: give either @WEIGHTS or {RANDOM_INIT_SUFFIX}, not both")
        name = get_bundle(match["name"].strip(), family_prefix).name  # ConfigError naming the known models
        return cls(name, weights, random_init, False, text)

    @property
    def label(self) -> str:
        if self.checkpoint:
            return self.text
        return self.name + (RANDOM_INIT_SUFFIX if self.random_init else "")


def is_random_init_label(model: str) -> bool:
    return str(model).endswith(RANDOM_INIT_SUFFIX)


def random_init_warning(label: str) -> str:
    return (
        f"warning: {label}: randomly initialised weights (on request); its scores measure the pipeline, "
        "not a released model"
    )


# --------------------------------------------------------------------------------------------- weights


def weights_fingerprint(path: str | Path) -> str:
    """``sha256:<16 hex>`` over the weights (and config) file(s) of a checkpoint file or folder."""
    p = Path(path)
    if p.is_file():
        return _fingerprint((p,), p.parent, (_stamp(p),), single=True)
    if not p.is_dir():
        raise CheckpointError(f"model weights {path}: no such file or folder")
    every = sorted(f for f in p.rglob("*") if f.is_file())
    if not every:
        raise CheckpointError(f"model weights {p}: empty folder")
    chosen = [f for f in every if f.suffix in WEIGHT_SUFFIXES or f.name == "config.json"]
    # A checkpoint folder: its weights + config (a README or code edit is not new weights); otherwise every file.
    files = tuple(chosen if any(f.suffix in WEIGHT_SUFFIXES for f in chosen) else every)
    return _fingerprint(files, p, tuple(_stamp(f) for f in files))


def _stamp(file: Path) -> tuple:
    stat = file.stat()
    return (stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _fingerprint(files: tuple[Path, ...], root: Path, stamps: tuple, single: bool = False) -> str:
    """Hashed once per (files, sizes, mtimes) in a process: runs resolve a model several times."""
    if single:  # a weights file: its own sha256
        return "sha256:" + file_hash(files[0])
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.relative_to(root).as_posix()}:{file_hash(f, 64)}\n".encode())
    return "sha256:" + h.hexdigest()[:16]


def _offline() -> bool:
    """HF_HUB_OFFLINE as huggingface_hub reads it (at import) or as set since."""
    from huggingface_hub import constants  # on first use: huggingface_hub fixes HF_* settings at import

    env = os.environ.get("HF_HUB_OFFLINE", "").strip().lower()
    return bool(constants.HF_HUB_OFFLINE) or env in ("1", "true", "yes", "on")


def _not_available(entry: CatalogueEntry, why: str) -> CheckpointError:
    return CheckpointError(
        f"{entry.name}: no cached copy of {entry.where} ({why}); run `spear-bench fetch {entry.name}` where there is "
        f"network, or point at local weights with --model {entry.name}@FOLDER "
        f"({entry.name}{RANDOM_INIT_SUFFIX} for random weights)"
    )


def cached_path(entry: CatalogueEntry) -> Path | None:
    """The local copy of ``entry``'s weights if it is in the cache, without any network access."""
    if entry.source == "dasheng":
        file = _dasheng_file(entry)
        return file if file.is_file() else None
    from huggingface_hub import snapshot_download  # on first use: huggingface_hub fixes HF_* settings at import
    from huggingface_hub.errors import LocalEntryNotFoundError  # (as above)

    try:
        return Path(
            snapshot_download(
                entry.repo_id, revision=entry.revision, allow_patterns=list(HUB_FILES), local_files_only=True
            )
        )
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError):
        return None


def _dasheng_file(entry: CatalogueEntry) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(entry.repo_id).path).name


def download(entry: CatalogueEntry) -> Path:
    """The local copy of ``entry``'s weights: the cache, or a (resumable) download into it."""
    cached = cached_path(entry)
    if cached is not None and _has_weights(cached):
        return cached
    if _offline():
        raise _not_available(entry, "HF_HUB_OFFLINE is set")
    try:
        if entry.source == "dasheng":
            file = _dasheng_file(entry)
            file.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(entry.repo_id, str(file), progress=True)
            return file
        from huggingface_hub import snapshot_download  # on first use: huggingface_hub fixes HF_* settings at import

        return Path(snapshot_download(entry.repo_id, revision=entry.revision, allow_patterns=list(HUB_FILES)))
    except Exception as error:  # noqa: BLE001 - no network, unknown repo, auth: all end in the same advice
        first = (str(error).splitlines() or [type(error).__name__])[0]
        raise _not_available(entry, f"download failed: {type(error).__name__}: {first[:160]}") from None


def _has_weights(path: Path) -> bool:
    if path.is_file():
        return True
    return any(f.suffix in WEIGHT_SUFFIXES for f in path.iterdir() if f.is_file())


def verify(entry: CatalogueEntry, path: Path, model=None):
    """Load ``path`` as ``entry`` (its family's loader: config checked against the size, strict keys) and check the
    parameter count; returns the loaded encoder. A mismatch is a one-line CheckpointError naming the path."""
    encoder = model if model is not None else get_bundle(entry.size).build(str(path), 0)
    count = sum(p.numel() for p in encoder.parameters())
    allowed = entry.parameters * entry.parameter_tolerance
    if abs(count - entry.parameters) > allowed:
        expected = f"{entry.parameters:,}" + (f" +- {entry.parameter_tolerance:.0%}" if allowed else "")
        raise CheckpointError(f"{path}: {count:,} parameters, but {entry.name} ({entry.where}) has {expected}")
    return encoder


@functools.lru_cache(maxsize=None)
def _fetched(name: str) -> str:
    entry = CATALOGUE[name]
    path = download(entry)
    verify(entry, path)
    return str(path)


def fetch(name: str) -> Path:
    """Download (or find in the cache) and verify the published weights of a catalogued name; once per process."""
    canonical = get_bundle(name).name
    entry = CATALOGUE.get(canonical)
    if entry is None:
        raise ConfigError(no_published_weights(canonical))
    return Path(_fetched(canonical))


def no_published_weights(name: str) -> str:
    variants = released_variants(name)
    also = f"name a released variant ({', '.join(variants)}), " if variants else ""
    return (
        f"{name} has no published weights of its own: {also}give local weights as {name}@FOLDER, "
        f"or ask for random weights with {name}{RANDOM_INIT_SUFFIX}"
    )


@dataclass(frozen=True)
class ResolvedWeights:
    path: str | None  # local weights; None: random init
    fingerprint: str  # sha256:... or "random-init"
    source: str  # "random-init" | "local" | the catalogue's ``where``


def resolve_weights(ref: ModelRef) -> ResolvedWeights:
    """Where ``ref``'s weights are (fetching a catalogued name), with their fingerprint."""
    if ref.random_init:
        return ResolvedWeights(None, RANDOM_INIT, RANDOM_INIT)
    if ref.weights:
        if not Path(ref.weights).expanduser().exists():
            raise CheckpointError(
                f"model weights {ref.weights}: no such file or folder (from --model {ref.text or ref.name})"
            )
        return ResolvedWeights(ref.weights, weights_fingerprint(ref.weights), "local")
    if ref.hear:
        return ResolvedWeights(None, "", "hear module")
    path = fetch(ref.name)
    return ResolvedWeights(str(path), weights_fingerprint(path), CATALOGUE[ref.name].where)
