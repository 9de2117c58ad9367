"""The sweep file (``configs/ablate/*.yaml``): base pre-training config, knobs, scoring, seeds."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from spear_bench.ablate.knobs import KNOBS
from spear_bench.errors import ConfigError
from spear_bench.pretrain.config import build_dataclass, read_yaml_mapping


@dataclass(frozen=True)
class ScoreConfig:
    """Where each variant's encoder is scored (as ``spear-bench run`` would)."""

    suite: str = "demo"
    tasks: tuple[str, ...] = ()
    data_root: str | None = None  # demo: generated under work_dir/demo_data when absent
    layer: str = "last"
    device: str = "cpu"
    probe_seed: int = 42  # + the variant's seed


@dataclass(frozen=True)
class SweepConfig:
    name: str
    base: str  # the base pre-training YAML
    knobs: dict  # knob -> list of values (every combination is a variant)
    score: ScoreConfig = field(default_factory=ScoreConfig)
    model: str = "spear_tiny"  # registered model the encoders load as; the variants' base name in the store
    seeds: tuple[int, ...] = (0,)  # added to the base config's model.seed and train.seed
    overrides: dict = field(default_factory=dict)  # merged into every variant's pre-training config
    work_dir: str = ""  # default work_dir/ablate/<name>
    results: str = ""  # default: the results store (results/)
    plots: str = ""  # default: reports/plots
    scale: str = ""  # legend text for the measured series (default: derived from the runs)
    source: str = ""  # the sweep file (set when loaded)

    @property
    def work_path(self) -> Path:
        return Path(self.work_dir or f"work_dir/ablate/{self.name}")


def load_sweep(path: str | Path) -> SweepConfig:
    """Read and check a sweep YAML; errors are one line naming the file."""
    path = Path(path)
    values = read_yaml_mapping(path, "sweep file")
    for key in ("name", "base", "knobs"):
        if key not in values:
            raise ConfigError(f"{path}: missing {key!r}")
    try:
        sweep = build_dataclass(SweepConfig, {**values, "source": str(path)}, str(path))
    except ConfigError as error:
        message = str(error)
        raise ConfigError(message if message.startswith(str(path)) else f"{path}: {message}") from None
    if not isinstance(sweep.knobs, dict) or not sweep.knobs:
        raise ConfigError(f"{path}: knobs: give at least one knob with a list of values")
    for name, knob_values in sweep.knobs.items():
        if name not in KNOBS:
            raise ConfigError(f"{path}: unknown knob {name!r}; known: {', '.join(KNOBS)}")
        if not isinstance(knob_values, list) or not knob_values:
            raise ConfigError(f"{path}: knobs.{name}: expected a non-empty list of values")
    if not sweep.seeds:
        raise ConfigError(f"{path}: seeds: give at least one")
    base = Path(sweep.base)
    if not base.is_file():
        raise ConfigError(f"{path}: base pre-training config {base} does not exist")
    return sweep
