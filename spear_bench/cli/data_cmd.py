"""``spear-bench data``: check a data root against a suite, fetch the HEAR tasks, resample HEAR audio (docs/data.md)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import List, Optional

import typer

from spear_bench.errors import DatasetError

data_app = typer.Typer(
    help="The data a suite needs: check a data root, fetch the HEAR tasks, resample HEAR audio.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
fetch_app = typer.Typer(help="Download published corpora.", no_args_is_help=True, rich_markup_mode=None)
data_app.add_typer(fetch_app, name="fetch")


def _split(values: Optional[List[str]]) -> list[str]:
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


def _hear_specs(suite: str, tasks: Optional[List[str]]) -> list:
    from spear_bench.task_registry import HearTaskSpec, load_suite

    return [s for s in load_suite(suite).select(_split(tasks)) if isinstance(s, HearTaskSpec)]


@data_app.command("check")
def check(
    suite: str = typer.Option(..., "--suite", help="hear | superb | demo | demo_superb."),
    data_root: Path = typer.Option(..., "--data-root", help="The folder holding the suite's task folders / corpora."),
    tasks: Optional[List[str]] = typer.Option(None, "--tasks", help="Tasks to check (default: all of the suite)."),
) -> None:
    """What each task needs, what is there, what is missing and where it comes from (exit status 2 if anything is).

    Loads no model and reads no audio (file names and sizes only)."""
    # loaded when the command runs: `spear-bench --help` stays fast (docs/architecture.md)
    from spear_bench.datasets.check import check_suite, render
    from spear_bench.superb.recipe_files import check_task_files

    start = time.perf_counter()
    if not data_root.is_dir():
        raise DatasetError(f"--data-root {data_root}: no such folder")
    checks = check_suite(suite, data_root, _split(tasks), recipe_check=check_task_files)
    for line in render(checks):
        typer.echo(line)
    typer.echo(f"checked in {time.perf_counter() - start:.1f} s")
    incomplete = [c.task for c in checks if c.missing]
    if incomplete:
        raise DatasetError(f"{len(incomplete)} task(s) with missing pieces (listed above): {', '.join(incomplete)}")


@fetch_app.command("hear")
def fetch_hear_cmd(
    to: Path = typer.Option(..., "--to", help="Where the task folders go (the --data-root of a hear run)."),
    tasks: Optional[List[str]] = typer.Option(None, "--tasks", help="HEAR tasks (names or short names; default all)."),
    record_url: Optional[str] = typer.Option(
        None,
        "--record-url",
        help="The records-API URL listing the archives (default: the HEAR Zenodo record, "
        "or $SPEAR_BENCH_HEAR_RECORD_URL).",
    ),
    keep_archives: bool = typer.Option(False, "--keep-archives", help="Keep the .tar.gz files under <to>/.downloads."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
) -> None:
    """Download the published HEAR task archives (48000 Hz): resumable, checksum-verified, unpacked as task folders."""
    from spear_bench.datasets.fetch import fetch_hear

    fetch_hear(_hear_specs("hear", tasks), to, record_url, quiet=quiet, keep_archives=keep_archives, log=typer.echo)


@data_app.command("resample")
def resample(
    data_root: Path = typer.Option(..., "--data-root", help="The folder holding the HEAR task folders."),
    suite: str = typer.Option("hear", "--suite", help="The suite whose HEAR task folders to resample."),
    tasks: Optional[List[str]] = typer.Option(
        None, "--tasks", help="Tasks (default: all of the suite that are there)."
    ),
    rate: int = typer.Option(16000, "--rate", help="The rate to make (the model's; spear-bench reads 16000)."),
    to: Optional[Path] = typer.Option(
        None,
        "--to",
        help="Write the <rate>/ folders under TO/<task folder>/ instead of beside the tasks (read-only data).",
    ),
) -> None:
    """Make each task's <rate>/ audio from the rate it has (48000 as published), with hear-preprocess's resampler,
    so that heareval's own runners read the same files as spear-bench."""
    from spear_bench.datasets.hear_layout import METADATA
    from spear_bench.datasets.hear_resample import make_rate, source_rate

    done = 0
    for spec in _hear_specs(suite, tasks):
        folder = spec.task_dir(data_root)
        if not (folder / METADATA).is_file():
            if tasks:
                raise DatasetError(f"HEAR task {spec.name}: expected {folder / METADATA}")
            continue  # all tasks: those not fetched are skipped
        out = folder if to is None else to / spec.folder
        if to is not None:
            out.mkdir(parents=True, exist_ok=True)
            for path in folder.iterdir():
                if path.is_file() and not (out / path.name).exists():
                    (out / path.name).write_bytes(path.read_bytes())  # metadata, vocabulary, split files
        if (out / str(rate)).is_dir():
            typer.echo(f"{spec.name}: {out / str(rate)} already there")
            continue
        source_rate(folder, rate)  # one-line error when there is nothing to resample from
        result = make_rate(folder, rate, out_root=out, log=typer.echo)
        typer.echo(f"{spec.name}: {result.files} files -> {result.rate_dir}")
        done += 1
    typer.echo(f"resampled {done} task(s)")


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
