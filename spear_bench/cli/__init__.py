"""The ``spear-bench`` command line.

Each command group lives in its own module with a ``register(app)`` function; this module
only assembles them and turns :class:`SpearBenchError` into a one-line message.
"""

from __future__ import annotations

import importlib
import sys

import typer

from spear_bench import interrupts
from spear_bench.errors import SpearBenchError

app = typer.Typer(
    name="spear-bench",
    help="SPEAR encoder: embeddings, SUPERB/HEAR evaluation, pre-training, fine-tunes, reports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Help texts name models as NAME[random-init]: rich markup would swallow the brackets.
    rich_markup_mode=None,
)


@app.callback()
def _root() -> None:
    """SPEAR encoder: embeddings, SUPERB/HEAR evaluation, pre-training, fine-tunes, reports."""


# One module per command group, in the order of the data flow.
_COMMAND_MODULES = [
    "spear_bench.cli.models_cmd",  # info, embed
    "spear_bench.cli.data_cmd",  # data check | fetch hear | resample
    "spear_bench.cli.run_cmd",  # run, demo
    "spear_bench.cli.pretrain_cmd",  # mvq, pretrain
    "spear_bench.cli.ablate_cmd",  # ablate
    "spear_bench.cli.finetune_cmd",  # finetune
    "spear_bench.cli.report_cmd",  # report
]
for _name in _COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def _attach_usage(error: Exception, argv: list[str]) -> None:
    """Give a usage error raised without a context (typer's option parser does that) the context
    of the command it belongs to, so that it prints that command's usage line."""
    if not hasattr(error, "ctx") or error.ctx is not None:
        return
    ctx = typer.Context(typer.main.get_command(app), info_name="spear-bench")
    for name in argv:  # walk down the command groups named on the command line
        command = ctx.command.get_command(ctx, name) if hasattr(ctx.command, "get_command") else None
        if command is None:
            break
        ctx = typer.Context(command, parent=ctx, info_name=name)
    error.ctx = ctx
    error.cmd = error.ctx.command


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    if debug:
        argv.remove("--debug")
    with interrupts.signals_raise():  # Ctrl-C and SIGTERM: one line, exit 130 / 143 (spear_bench.interrupts)
        code = _run(argv, debug)
        if code == 130 or interrupts.received():  # typer turns KeyboardInterrupt into exit code 130
            command = next((a for a in argv if not a.startswith("-")), "spear-bench")
            typer.secho(interrupts.interrupted_line(interrupts.received(), command), err=True)
            return interrupts.exit_code(interrupts.received())
    return code


def _run(argv: list[str], debug: bool) -> int:
    try:
        code = app(args=argv, prog_name="spear-bench", standalone_mode=False)
    except SpearBenchError as error:
        if debug:
            raise
        typer.secho(f"error: {error}", err=True, fg=typer.colors.RED)
        return 2
    except KeyboardInterrupt:
        return 130
    except typer.Exit as error:
        return error.exit_code
    except typer.Abort:
        return 1
    except typer.TyperException as error:
        # Usage errors (unknown command, missing option value): the usage line, then the error.
        # typer vendors click (typer._click), so click's own exception classes would not match.
        if debug:
            raise
        if hasattr(error, "show"):
            _attach_usage(error, argv)
            error.show()
        else:
            typer.secho(f"error: {error.format_message()}", err=True, fg=typer.colors.RED)
        return error.exit_code
    return code if isinstance(code, int) else 0
