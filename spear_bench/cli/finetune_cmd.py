"""``spear-bench finetune asr|audioset|demo-data``: the fine-tunes of the paper's Table 3 / Table 11.

See docs/finetuning.md. Settings come from a preset (``configs/finetune/<name>.yaml``) or
a YAML file, with the common ones as options and any other as ``--set key.sub=value``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from spear_bench.errors import ConfigError
from spear_bench.paths import home

finetune_app = typer.Typer(
    help="Fine-tune an encoder: LibriSpeech ASR (RNN-T or CTC) and AudioSet tagging.",
    no_args_is_help=True,
)

DEMO_PRESETS = {"asr": "demo_asr", "audioset": "demo_audioset"}
DEMO_MODEL = "spear_tiny[random-init]"  # the demo stays offline: random weights, asked for and labelled


def _make_demo_data(kind: str, folder: Path) -> Path:
    # loaded when the command runs: `spear-bench --help` stays fast (docs/architecture.md)
    from spear_bench.finetune.mini_corpora import make_mini_audioset, make_mini_librispeech

    marker = folder / ".complete"
    if not marker.exists():
        typer.echo(f"generating the {kind} demo data in {folder} ...", err=True)
        (make_mini_librispeech if kind == "asr" else make_mini_audioset)(folder)
        marker.write_text("ok\n")
    return folder


def _run(
    kind: str,
    model: Optional[str],
    data: Optional[Path],
    out: Optional[Path],
    config: Optional[str],
    steps: Optional[int],
    device: Optional[str],
    model_path: Optional[str],
    init_seed: int,
    overrides: list[str],
    resume: bool,
    force: bool,
    quiet: bool,
    demo: bool,
    extra_overrides: list[str],
) -> None:
    # loaded when the command runs: `spear-bench --help` stays fast (docs/architecture.md)
    from spear_bench.finetune.asr import finetune_asr
    from spear_bench.finetune.config import load_config
    from spear_bench.finetune.run import RunSpec
    from spear_bench.finetune.tagging import finetune_audioset
    from spear_bench.models.model_ref import random_init_warning

    if demo:
        model = model or DEMO_MODEL
        config = config or DEMO_PRESETS[kind]
    if model is None:
        raise ConfigError(
            "--model is required (a released name such as spear_base_sa, NAME@WEIGHTS, NAME[random-init], "
            "or a SPEAR checkpoint path)"
        )
    all_overrides = list(extra_overrides) + list(overrides)
    if steps is not None:
        all_overrides.append(f"train.max_steps={steps}")
    if device is not None:
        all_overrides.append(f"train.device={device}")
    cfg = load_config(kind, config, all_overrides)
    label = Path(model).name if Path(model).exists() else model
    out = out or home() / "work_dir" / "finetune" / f"{cfg.task}__{label}"
    if data is None:
        if not demo:
            raise ConfigError("--data is required (the LibriSpeech / AudioSet folder), or pass --demo")
        data = _make_demo_data(kind, out / "demo_data")
    spec = RunSpec(
        model=model,
        data_dir=data,
        out_dir=out,
        model_path=model_path,
        init_seed=init_seed,
        resume=resume,
        force=force,
        progress=not quiet,
    )
    if spec.weights_fingerprint() == "random-init":
        typer.echo(random_init_warning(spec.model_label))
    run = finetune_asr if kind == "asr" else finetune_audioset
    outcome = run(cfg, spec)
    if outcome.details.get("cached"):
        typer.echo(f"already in the results store ({outcome.results_path}); --force runs it again")
    for metric, value in outcome.scores.items():
        before = outcome.scores_before.get(metric)
        typer.echo(
            f"{cfg.task} {label} {metric} = {value:.2f}"
            + (f" (before fine-tuning: {before:.2f})" if before is not None else "")
        )
    typer.echo(f"run folder: {outcome.out_dir}; results: {outcome.results_path}")


_MODEL = typer.Option(
    None,
    "--model",
    help="model name (a released name such as spear_base_sa, NAME@WEIGHTS, NAME[random-init]) or a SPEAR checkpoint",
)
_DATA = typer.Option(None, "--data", help="dataset folder (see docs/finetuning.md for the layout)")
_OUT = typer.Option(
    None, "--out", help="run folder (checkpoints, decodes, results.json); default work_dir/finetune/<task>__<model>"
)
_CONFIG = typer.Option(None, "--config", help="preset name in configs/finetune/ or a YAML path")
_STEPS = typer.Option(None, "--steps", help="training steps (train.max_steps)")
_DEVICE = typer.Option(None, "--device", help="auto | cpu | cuda | cuda:N")
_MODEL_PATH = typer.Option(None, "--model-path", help="weights for a registered model name")
_SEED = typer.Option(0, "--init-seed", help="seed of the random init (NAME[random-init])")
_SET = typer.Option([], "--set", help="override any setting, e.g. --set train.optim.lr=0.01 (repeatable)")
_RESUME = typer.Option(True, "--resume/--no-resume", help="continue from the run folder's checkpoint")
_FORCE = typer.Option(False, "--force", help="run even if the results store already has this run")
_QUIET = typer.Option(False, "--quiet", help="no progress bar")
_DEMO = typer.Option(False, "--demo", help="generated miniature data, spear_tiny and the CPU demo preset")


@finetune_app.command("asr")
def asr(
    model: Optional[str] = _MODEL,
    data: Optional[Path] = _DATA,
    out: Optional[Path] = _OUT,
    config: Optional[str] = _CONFIG,
    head: Optional[str] = typer.Option(None, "--head", help="rnnt | ctc"),
    steps: Optional[int] = _STEPS,
    device: Optional[str] = _DEVICE,
    model_path: Optional[str] = _MODEL_PATH,
    init_seed: int = _SEED,
    overrides: list[str] = _SET,
    resume: bool = _RESUME,
    force: bool = _FORCE,
    quiet: bool = _QUIET,
    demo: bool = _DEMO,
) -> None:
    """LibriSpeech ASR: RNN-T (Table 3, preset ls100_rnnt / ls960_rnnt) or CTC (Table 11, ls100_ctc)."""
    extra = [f"head={head}"] if head else []
    _run(
        "asr",
        model,
        data,
        out,
        config,
        steps,
        device,
        model_path,
        init_seed,
        overrides,
        resume,
        force,
        quiet,
        demo,
        extra,
    )


@finetune_app.command("audioset")
def audioset(
    model: Optional[str] = _MODEL,
    data: Optional[Path] = _DATA,
    out: Optional[Path] = _OUT,
    config: Optional[str] = _CONFIG,
    steps: Optional[int] = _STEPS,
    device: Optional[str] = _DEVICE,
    model_path: Optional[str] = _MODEL_PATH,
    init_seed: int = _SEED,
    overrides: list[str] = _SET,
    resume: bool = _RESUME,
    force: bool = _FORCE,
    quiet: bool = _QUIET,
    demo: bool = _DEMO,
) -> None:
    """AudioSet tagging: AS-20k (preset as20k) or AS-2M with balanced sampling (as2m); reports mAP."""
    _run(
        "audioset",
        model,
        data,
        out,
        config,
        steps,
        device,
        model_path,
        init_seed,
        overrides,
        resume,
        force,
        quiet,
        demo,
        [],
    )


@finetune_app.command("demo-data")
def demo_data(
    kind: str = typer.Argument(..., help="asr (mini LibriSpeech) | audioset (mini AudioSet)"),
    out: Path = typer.Option(..., "--out", help="folder to write"),
) -> None:
    """Write a generated miniature dataset in the real layout (espeak-ng speech / synthetic clips)."""
    # loaded when the command runs: `spear-bench --help` stays fast (docs/architecture.md)
    from spear_bench.finetune.mini_corpora import make_mini_audioset, make_mini_librispeech

    makers = {"asr": make_mini_librispeech, "audioset": make_mini_audioset}
    if kind not in makers:
        raise ConfigError(f"unknown demo dataset {kind!r}; known: {', '.join(makers)}")
    typer.echo(str(makers[kind](out)))


def register(app: typer.Typer) -> None:
    app.add_typer(finetune_app, name="finetune")
