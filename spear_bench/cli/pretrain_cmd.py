"""Commands of this group are registered here (see spear_bench/cli/__init__.py)."""
import typer


def register(app: typer.Typer) -> None:
    pass
