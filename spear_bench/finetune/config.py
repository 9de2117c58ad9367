"""Fine-tuning configurations: typed dataclasses with every default visible, read from YAML.

Defaults are the paper's LS-100 RNN-T recipe (Appendix B.3, Table 10) and the facts of the
SPEAR release (encoder learning rate x 0.05, encoder frozen for the first 2000 steps);
presets for the other set-ups and for the CPU demos live in ``configs/finetune/*.yaml``.
A YAML file only lists what differs; unknown keys are errors naming the file and key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from spear_bench.errors import ConfigError
from spear_bench.finetune.augment import MixupConfig, SpecAugmentConfig
from spear_bench.paths import REPO_ROOT

CONFIG_DIR = REPO_ROOT / "configs" / "finetune"


@dataclass
class OptimConfig:
    name: str = "scaled_adam"  # scaled_adam (paper: ScaledAdam + Eden) | adamw
    lr: float = 0.045  # peak learning rate of the head (Table 10)
    encoder_lr_scale: float = 0.05  # encoder lr = lr * scale (release; Table 10 prints 0.1 for ASR)
    warmup_steps: int = 500
    lr_steps: float = 7500.0  # Eden's step constant
    lr_epochs: float = 3.5  # Eden's epoch constant (epochs of the training set)
    weight_decay: float = 0.0  # adamw only
    grad_clip: float = 5.0  # adamw only (ScaledAdam clips by its own gradient-norm history)


@dataclass
class TrainConfig:
    max_steps: int = 16200  # LS-100: 90 epochs of ~180 batches of 2000 s
    freeze_encoder_steps: int = 2000
    max_duration: float = 2000.0  # seconds of audio per batch (Table 10 "batch size")
    sampler: str = "bucketing"  # simple | bucketing | weighted (see data.py)
    save_every: int = 500  # steps between checkpoints
    log_every: int = 50
    num_workers: int = 2
    seed: int = 42
    device: str = "auto"  # auto (cuda if available, unless SPEAR_BENCH_CPU=1) | cpu | cuda | cuda:N (train.device)
    optim: OptimConfig = field(default_factory=OptimConfig)


@dataclass
class AsrConfig:
    task: str = "librispeech_100h"
    head: str = "rnnt"  # rnnt (Table 3) | ctc (Table 11)
    tokenizer: str = "bpe"  # bpe | char (Appendix C's letters)
    vocab_size: int = 500
    train_splits: list[str] = field(default_factory=lambda: ["train-clean-100"])
    eval_splits: list[str] = field(default_factory=lambda: ["test-clean", "test-other"])
    decoding: str = "beam"  # greedy | beam (| modified_beam for RNN-T); see decoding.py
    beam: int = 4
    max_sym_per_frame: int = 3  # RNN-T decoding
    decoder_dim: int = 512
    joiner_dim: int = 512
    context_size: int = 2
    rnnt_loss: str = "pruned"  # pruned (Kuang et al., 2022; the paper's) | full (whole lattice)
    prune_range: int = 5
    simple_loss_scale: float = 0.5
    lm_only_scale: float = 0.25
    pruned_warmup_steps: int = 2000  # loss scales move from (1, 0.1) to (simple_loss_scale, 1)
    ctc_dropout: float = 0.1
    speed_perturb: list[float] = field(default_factory=lambda: [0.9, 1.1])  # plus the original: 3-fold
    eval_before: bool = False  # also score the eval splits before training (the demo's "before")
    eval_max_duration: float = 600.0
    spec_augment: SpecAugmentConfig = field(default_factory=SpecAugmentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


@dataclass
class TaggingConfig:
    task: str = "audioset_20k"
    train_csvs: list[str] = field(default_factory=lambda: ["balanced_train_segments.csv"])
    eval_csv: str = "eval_segments.csv"
    ontology: str = "class_labels_indices.csv"
    audio_dir: str = "audio"
    samples_per_epoch: int | None = None  # weighted sampler draws; default: size of the training set
    dropout: float = 0.1
    mixup: MixupConfig = field(default_factory=MixupConfig)
    eval_before: bool = False
    eval_max_duration: float = 600.0
    spec_augment: SpecAugmentConfig = field(default_factory=SpecAugmentConfig)
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            max_steps=2000, freeze_encoder_steps=0, sampler="weighted", optim=OptimConfig(encoder_lr_scale=0.2)
        )
    )


FINETUNE_KINDS: dict[str, type] = {"asr": AsrConfig, "audioset": TaggingConfig}
DEFAULT_PRESETS = {"asr": "ls100_rnnt", "audioset": "as20k"}


def _check_type(current, value, where: str):
    """The YAML value must have the default's type (ints pass for floats); ``None`` defaults take anything."""
    if current is None or value is None:
        return value
    if isinstance(current, bool):
        ok = isinstance(value, bool)
    elif isinstance(current, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(current, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, type(current))
    if not ok:
        raise ConfigError(f"{where}: expected {type(current).__name__}, got {value!r}")
    return value


def _build(base, data: dict, where: str):
    """``base`` (a dataclass instance) with the keys of ``data`` replaced, recursively."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(base)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    updates = {}
    for key, value in data.items():
        current = getattr(base, key)
        if dataclasses.is_dataclass(current):
            updates[key] = _build(current, value, f"{where}.{key}")
        else:
            updates[key] = _check_type(current, value, f"{where}.{key}")
    return dataclasses.replace(base, **updates)


def preset_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    return CONFIG_DIR / f"{name_or_path}.yaml"


def load_config(kind: str, name_or_path: str | None = None, overrides: list[str] | None = None):
    """The config of ``kind`` (asr | audioset) from a preset name or YAML path, with ``key.sub=value`` overrides."""
    if kind not in FINETUNE_KINDS:
        raise ConfigError(f"unknown fine-tune {kind!r}; known: {', '.join(FINETUNE_KINDS)}")
    path = preset_path(name_or_path or DEFAULT_PRESETS[kind])
    if not path.is_file():
        presets = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
        raise ConfigError(f"fine-tune config not found: {path} (presets: {presets})")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: invalid YAML ({str(error).splitlines()[0]})") from error
    if data.get("kind", kind) != kind:
        raise ConfigError(f"{path}: a {data['kind']!r} config, not {kind!r}")
    data.pop("kind", None)
    for item in overrides or []:
        _set_dotted(data, item)
    return _build(FINETUNE_KINDS[kind](), data, str(path))


def _set_dotted(data: dict, item: str) -> None:
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {item!r}: expected key=value (e.g. train.max_steps=100)")
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {item!r}: {part} is not a section")
    node[parts[-1]] = yaml.safe_load(raw)


def config_dict(config) -> dict:
    return dataclasses.asdict(config)
