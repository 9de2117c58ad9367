"""``spear-bench mvq train|encode`` and ``spear-bench pretrain``: SPEAR pre-training from a YAML config.

    spear-bench mvq train  --config configs/pretrain/demo_tiny.yaml   # teacher features + quantisers
    spear-bench mvq encode --config configs/pretrain/demo_tiny.yaml   # uint8 tokens beside the cuts
    spear-bench pretrain   --config configs/pretrain/demo_tiny.yaml   # every missing stage, then training
    torchrun --nproc_per_node 2 -m spear_bench pretrain --config FILE  # one process per rank

See docs/pretraining.md.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Optional

import typer

from spear_bench.errors import ConfigError

CONFIG_HELP = "pre-training YAML config (see configs/pretrain/)"


def _load(config: Path, work_dir: Optional[Path], extra: dict | None = None):
    # loaded when the command runs: `spear-bench --help` stays fast (docs/architecture.md)
    from spear_bench.pretrain.config import load_pretrain_config

    overrides = dict(extra or {})
    if work_dir is not None:
        overrides["work_dir"] = str(work_dir)
    return load_pretrain_config(config, overrides)


def mvq_train(
    config: Path = typer.Option(..., "--config", help=CONFIG_HELP),
    token_set: Optional[list[str]] = typer.Option(None, "--token-set", help="only this token set (repeatable)"),
    force: bool = typer.Option(False, "--force", help="retrain even if the quantiser file exists"),
    work_dir: Optional[Path] = typer.Option(None, "--work-dir", help="override the config's work_dir"),
) -> None:
    """Extract teacher features (cached) and train one MVQ quantiser per token set."""
    # loaded when the command runs: `spear-bench --help` stays fast (docs/architecture.md)
    from spear_bench.pretrain.pipeline import load_quantizer, prepare_cuts, train_mvq

    cfg = _load(config, work_dir)
    known = {t.name for t in cfg.token_sets}
    for name in token_set or []:
        if name not in known:
            raise ConfigError(f"--token-set {name!r}: {config} has token sets {sorted(known)}")
    cuts = prepare_cuts(cfg)
    for name, path in train_mvq(cfg, cuts, list(token_set or []), force=force).items():
        q = load_quantizer(path)
        error = q.meta.get("relative_reconstruction_error")
        typer.echo(
            f"{name}: {q.meta['teacher']} layer {q.meta['layer']} -> {q.num_codebooks} x {q.codebook_size} "
            f"{q.meta.get('kind', 'mvq')} codebooks"
            + (f", relative reconstruction error {error:.4f}" if error is not None else "")
            + f"  [{path}]"
        )


def mvq_encode(
    config: Path = typer.Option(..., "--config", help=CONFIG_HELP),
    work_dir: Optional[Path] = typer.Option(None, "--work-dir", help="override the config's work_dir"),
) -> None:
    """Encode every cut's teacher features into uint8 tokens (stored beside a lhotse cut manifest)."""
    # loaded when the command runs: `spear-bench --help` stays fast (docs/architecture.md)
    from spear_bench.pretrain.pipeline import encode_tokens, layout, prepare_cuts

    cfg = _load(config, work_dir)
    cuts = encode_tokens(cfg, prepare_cuts(cfg))
    typer.echo(f"{len(cuts)} cuts with tokens {[t.name for t in cfg.token_sets]} -> {layout(cfg).tokens_manifest}")


def pretrain(
    config: Path = typer.Option(..., "--config", help=CONFIG_HELP),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="stop at this step (default: train.max_steps)"),
    nproc: int = typer.Option(1, "--nproc", help="processes (DDP; gloo on CPU); under torchrun the launcher decides"),
    work_dir: Optional[Path] = typer.Option(None, "--work-dir", help="override the config's work_dir"),
    fresh: bool = typer.Option(False, "--fresh", help="ignore existing checkpoints (start from step 0)"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bars"),
) -> None:
    """Pre-train a SPEAR encoder: data -> teacher features -> MVQ -> tokens -> masked prediction training."""
    # loaded when the command runs: `spear-bench --help` stays fast (docs/architecture.md)
    from spear_bench.pretrain.pipeline import layout
    from spear_bench.pretrain.trainer import run_pretraining

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    extra = {"train": {"resume": False}} if fresh else None
    cfg = _load(config, work_dir, extra)
    if fresh:
        shutil.rmtree(layout(cfg).exp, ignore_errors=True)
    result = run_pretraining(cfg, nproc=nproc, max_steps=max_steps, progress=not quiet)
    records = result.records
    if records:
        summary = {"steps": f"{records[0]['step']}..{records[-1]['step']}"}
        for key in ["loss"] + [f"{t.name}_masked_ce" for t in cfg.token_sets]:
            values = [r[key] for r in records if r.get(key) is not None]
            # first and last step, and the means of the first and last 10 % of the steps
            window = max(1, len(values) // 10)
            summary[key] = (
                {
                    "first": round(values[0], 4),
                    "last": round(values[-1], 4),
                    "first_mean": round(sum(values[:window]) / window, 4),
                    "last_mean": round(sum(values[-window:]) / window, 4),
                }
                if values
                else None
            )
        typer.echo(json.dumps(summary))
    typer.echo(f"encoder (release layout): {result.exp_dir / 'encoder'}")


def register(app: typer.Typer) -> None:
    mvq = typer.Typer(help="MVQ quantisers of teacher features (multi-quantization).", no_args_is_help=True)
    mvq.command("train")(mvq_train)
    mvq.command("encode")(mvq_encode)
    app.add_typer(mvq, name="mvq")
    app.command("pretrain")(pretrain)
