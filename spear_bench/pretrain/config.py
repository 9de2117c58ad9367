"""The pre-training experiment as one typed config, read from YAML (``spear-bench pretrain --config``).

Every section is a small frozen dataclass with its defaults visible in one place; the
YAML only lists what differs. Unknown keys are a ConfigError naming the file and key.
Paths in the YAML are relative to the current directory; ``work_dir`` holds everything
the run writes (demo data, teacher features, quantisers, tokens, checkpoints).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from spear_bench.errors import ConfigError
from spear_bench.pretrain.data import DemoDataConfig
from spear_bench.pretrain.kmeans import KMeansConfig
from spear_bench.pretrain.masking import MaskingConfig
from spear_bench.pretrain.mixing import NoiseMixingConfig, TokenMixingConfig
from spear_bench.pretrain.mvq import MVQConfig
from spear_bench.pretrain.strategies import strategy_names
from spear_bench.pretrain.teachers import TeacherConfig
from spear_bench.train.optim import EdenConfig, ScaledAdamConfig

TARGET_KINDS = ("mvq", "kmeans")


@dataclass(frozen=True)
class DataConfig:
    """Where the audio comes from: a cut manifest, folders per domain, or generated demo data."""

    manifest: str | None = None  # lhotse CutSet (jsonl.gz) with custom.domain on every cut
    speech_dirs: tuple[str, ...] = ()
    audio_dirs: tuple[str, ...] = ()
    noise_dirs: tuple[str, ...] = ()  # noise files for noise mixing (MUSAN in the paper)
    demo: DemoDataConfig | None = None  # generate demo data into work_dir/data (used when nothing else is given)


@dataclass(frozen=True)
class TokenSetConfig:
    """One set of targets: a teacher, its layer and the quantiser of its features (MVQ, or k-means for Table 21)."""

    name: str = "speech"  # "speech" or "audio" (the dual-domain strategies use these names)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    target: str = "mvq"  # mvq | kmeans
    mvq: MVQConfig = field(default_factory=MVQConfig)
    kmeans: KMeansConfig = field(default_factory=KMeansConfig)
    quantizer: str | None = None  # an existing quantiser file; None: train one into work_dir/mvq

    def __post_init__(self):
        if self.target not in TARGET_KINDS:
            raise ConfigError(f"token_sets.{self.name}.target={self.target!r}: must be one of {list(TARGET_KINDS)}")


@dataclass(frozen=True)
class ModelConfig:
    size: str = "base"  # a SPEAR size: tiny, base, large, xlarge
    overrides: dict = field(default_factory=dict)  # SpearConfig fields (e.g. a smaller demo model)
    init: str | None = None  # start from these encoder weights (a SPEAR checkpoint)
    seed: int = 0


@dataclass(frozen=True)
class LossConfig:
    alpha: float = 0.5  # Eq. 1: weight of the masked frames' loss
    strategy: str = "asymmetrical"  # joint | disjoint | asymmetrical (dual-domain only)
    audio_weight: float = 0.1  # lambda of the audio-token loss

    def __post_init__(self):
        if not 0.0 <= self.alpha <= 1.0:
            raise ConfigError(f"loss.alpha={self.alpha} must be in [0, 1]")
        if self.strategy not in strategy_names():
            raise ConfigError(f"loss.strategy: unknown strategy {self.strategy!r}; known: {strategy_names()}")


@dataclass(frozen=True)
class AugmentConfig:
    token_mixing: TokenMixingConfig | None = field(default_factory=TokenMixingConfig)
    noise: NoiseMixingConfig | None = field(default_factory=NoiseMixingConfig)


@dataclass(frozen=True)
class TrainConfig:
    max_steps: int = 400000
    batch_duration: float = 600.0  # seconds of padded audio per batch and rank
    seed: int = 42
    log_every: int = 10
    save_every: int = 4000
    keep_last: int = 3
    deterministic: bool = True  # torch.use_deterministic_algorithms
    tensorboard: bool = True
    resume: bool = True  # continue from the latest checkpoint of work_dir/exp
    epoch_measure: str = "epochs"  # what Eden's "epoch" counts: epochs | hours (of audio seen, as the release)
    ref_duration: float = 600.0  # batch seconds that the encoder's regulariser schedules assume
    num_threads: int = 0  # torch threads per process (0: leave torch's default)

    def __post_init__(self):
        if self.epoch_measure not in ("epochs", "hours"):
            raise ConfigError(f"train.epoch_measure={self.epoch_measure!r} must be 'epochs' or 'hours'")
        if self.max_steps < 1 or self.batch_duration <= 0:
            raise ConfigError("train.max_steps must be >= 1 and train.batch_duration > 0")


@dataclass(frozen=True)
class PretrainConfig:
    work_dir: str = "work_dir/pretrain"
    data: DataConfig = field(default_factory=DataConfig)
    token_sets: tuple[TokenSetConfig, ...] = (TokenSetConfig(),)
    model: ModelConfig = field(default_factory=ModelConfig)
    masking: MaskingConfig = field(default_factory=MaskingConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    optim: ScaledAdamConfig = field(default_factory=ScaledAdamConfig)
    schedule: EdenConfig = field(default_factory=EdenConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self):
        names = [t.name for t in self.token_sets]
        if not names or len(set(names)) != len(names):
            raise ConfigError(f"token_sets: need at least one, with distinct names (got {names})")
        if len(names) == 2 and sorted(names) != ["audio", "speech"]:
            raise ConfigError(f"token_sets: two token sets must be named 'speech' and 'audio' (got {names})")
        if len(names) > 2:
            raise ConfigError(f"token_sets: at most two (speech, audio), got {names}")
        mixing = self.augment.token_mixing
        if mixing is not None and mixing.prob > 0 and mixing.token_set not in names:
            raise ConfigError(f"augment.token_mixing.token_set={mixing.token_set!r} is not one of token_sets {names}")

    @property
    def work_path(self) -> Path:
        return Path(self.work_dir)

    def token_set(self, name: str) -> TokenSetConfig:
        for t in self.token_sets:
            if t.name == name:
                return t
        raise ConfigError(f"no token set named {name!r} (have {[t.name for t in self.token_sets]})")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# -- YAML -> dataclasses -----------------------------------------------------------------


def _is_dataclass_type(tp) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _convert(tp, value, where: str):
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            if type(None) in args:
                return None
            raise ConfigError(f"{where}: must not be null")
        for arg in args:
            if arg is type(None):
                continue
            return _convert(arg, value, where)
    if _is_dataclass_type(tp):
        if value is None:
            return None
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
        return build_dataclass(tp, value, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            value = [value]
        item = args[0] if args else typing.Any
        return tuple(_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if tp is dict or origin is dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
        return dict(value)
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp in (int, str, bool) and not isinstance(value, tp):
        if tp is int and isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{where}: expected {tp.__name__}, got {value!r}")
    return value


def build_dataclass(cls, values: dict, where: str):
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
    kwargs = {k: _convert(hints[k], v, f"{where}.{k}") for k, v in values.items()}
    try:
        return cls(**kwargs)
    except TypeError as error:
        raise ConfigError(f"{where}: {error}") from None


def read_yaml_mapping(path: Path, what: str) -> dict:
    """A YAML file's top-level mapping; a missing file, bad YAML or a non-mapping is a one-line ConfigError."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such {what}")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: invalid YAML ({str(error).splitlines()[0]})") from error
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return values


def load_pretrain_config(path: str | Path, overrides: dict | None = None) -> PretrainConfig:
    """Read a YAML file into a PretrainConfig; ``overrides`` are merged into the top level (nested dicts)."""
    path = Path(path)
    values = read_yaml_mapping(path, "config file")
    if overrides:
        values = _merge(values, overrides)
    try:
        return build_dataclass(PretrainConfig, values, str(path))
    except ConfigError as error:
        message = str(error)
        raise ConfigError(message if message.startswith(str(path)) else f"{path}: {message}") from None


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out
