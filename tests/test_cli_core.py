"""The CLI shell: help, and user errors as one red line without a traceback."""

import subprocess
import sys

from spear_bench.cli import main


def test_help_lists_commands(capsys):
    assert main(["--help"]) == 0
    assert "Usage" in capsys.readouterr().out


def test_user_error_is_one_line_without_traceback():
    result = subprocess.run(
        [sys.executable, "-m", "spear_bench", "info", "no-such-model"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error:")
    assert "no-such-model" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_usage_errors_print_the_usage_line_and_the_error_and_exit_2():
    for argv, usage, message in [
        (["xyzzy"], "Usage: spear-bench [OPTIONS] COMMAND [ARGS]...", "Error: No such command 'xyzzy'."),
        (["run", "--suite"], "Usage: spear-bench run [OPTIONS]", "Error: Option '--suite' requires an argument."),
    ]:
        result = subprocess.run([sys.executable, "-m", "spear_bench", *argv], capture_output=True, text=True)
        assert result.returncode == 2, argv
        lines = result.stderr.strip().splitlines()
        assert lines[0] == usage and lines[-1] == message, result.stderr
        assert "Traceback" not in result.stderr
