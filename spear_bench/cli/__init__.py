"""The ``spear-bench`` command line.

Each command group lives in its own module with a ``register(app)`` function; this module
only assembles them and turns :class:`SpearBenchError` into a one-line message.
"""
from __future__ import annotations

import importlib
import sys

import typer

from spear_bench.errors import SpearBenchError

app = typer.Typer(
    name="spear-bench",
    help="SPEAR encoder: embeddings, SUPERB/HEAR evaluation, pre-training, fine-tunes, reports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)



@app.callback()
def _root() -> None:
    """SPEAR encoder: embeddings, SUPERB/HEAR evaluation, pre-training, fine-tunes, reports."""


# One module per command group, in the order of the data flow.
_COMMAND_MODULES = [
    "spear_bench.cli.models_cmd",  # info, embed
    "spear_bench.cli.run_cmd",  # run, demo
    "spear_bench.cli.pretrain_cmd",  # mvq, pretrain
    "spear_bench.cli.ablate_cmd",  # ablate
    "spear_bench.cli.finetune_cmd",  # finetune
    "spear_bench.cli.report_cmd",  # report
]
for _name in _COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    if debug:
        argv.remove("--debug")
    try:
        app(args=argv, standalone_mode=False)
    except SpearBenchError as error:
        if debug:
            raise
        typer.secho(f"error: {error}", err=True, fg=typer.colors.RED)
        return 2
    except KeyboardInterrupt:
        typer.secho("interrupted", err=True)
        return 130
    except Exception as error:  # click usage errors and the like
        import click

        if isinstance(error, click.exceptions.ClickException):
            error.show()
            return error.exit_code
        if isinstance(error, click.exceptions.Exit):
            return error.exit_code
        if isinstance(error, click.exceptions.Abort):
            return 1
        raise
    return 0
