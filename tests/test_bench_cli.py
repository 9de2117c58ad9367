"""``spear-bench run``: one-line errors before any model loads, skipping finished units."""

import json

from spear_bench.cli import main


def _run(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_hear_suite_without_data_root_is_a_one_line_error(capsys):
    code, _, err = _run(capsys, "run", "--suite", "hear", "--model", "spear_tiny[random-init]")
    assert code == 2 and "--data-root is required" in err and err.count("\n") == 1


def test_missing_hear_task_folder_names_the_expected_path(capsys, tmp_path):
    code, _, err = _run(
        capsys,
        "run",
        "--suite",
        "hear",
        "--model",
        "spear_tiny[random-init]",
        "--tasks",
        "ESC",
        "--data-root",
        str(tmp_path),
    )
    assert code == 2 and str(tmp_path / "esc50-v2.0.0-full" / "task_metadata.json") in err and err.count("\n") == 1


def test_missing_superb_corpus_names_the_expected_path(capsys, tmp_path):
    code, _, err = _run(
        capsys,
        "run",
        "--suite",
        "superb",
        "--model",
        "spear_tiny[random-init]",
        "--tasks",
        "KS",
        "--data-root",
        str(tmp_path),
    )
    assert code == 2 and str(tmp_path / "speech_commands") in err


def test_a_legacy_superb_task_without_its_corpus_names_the_expected_path(capsys, tmp_path):
    # ST runs through s3prl's legacy runner (spear_bench.superb.legacy_tasks); its corpus is checked first
    code, _, err = _run(
        capsys,
        "run",
        "--suite",
        "superb",
        "--model",
        "spear_tiny[random-init]",
        "--tasks",
        "ST",
        "--data-root",
        str(tmp_path),
        "--results",
        str(tmp_path / "results"),
        "--quiet",
    )
    assert code == 2 and "SUPERB task st" in err and str(tmp_path / "covost2") in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_model_and_launcher_are_config_errors(capsys, tmp_path):
    code, _, err = _run(capsys, "run", "--suite", "demo", "--model", "nope", "--data-root", str(tmp_path))
    assert code == 2 and "unknown model 'nope'" in err
    code, _, err = _run(
        capsys,
        "run",
        "--suite",
        "superb",
        "--model",
        "spear_tiny[random-init]",
        "--tasks",
        "qbe",
        "--data-root",
        str(tmp_path),
        "--launcher",
        "ssh",
    )
    assert code == 2 and "unknown launcher 'ssh'" in err


def test_finished_units_are_skipped(capsys, tmp_path, demo_root):
    """A unit already in the store (same config hash) is reported as finished and not rerun."""

    from spear_bench.bench.orchestrate import RunConfig, Unit, unit_config
    from spear_bench.results.store import ResultRow, ResultsStore, config_hash
    from spear_bench.task_registry import load_suite

    root = demo_root
    config = RunConfig(
        suite="demo",
        models=("spear_tiny[random-init]",),
        tasks=("demo_ks",),
        data_root=str(root),
        results=str(tmp_path),
    )
    spec = load_suite("demo").task("demo_ks")
    chash = config_hash(unit_config(Unit("spear_tiny[random-init]", "demo_ks"), spec, config, root))
    ResultsStore(tmp_path).write_unit([ResultRow("spear_tiny[random-init]", "demo", "demo_ks", "acc", 12.5, 42, chash)])
    code, out, _ = _run(
        capsys,
        "run",
        "--suite",
        "demo",
        "--model",
        "spear_tiny[random-init]",
        "--tasks",
        "demo_ks",
        "--data-root",
        str(root),
        "--results",
        str(tmp_path),
        "--quiet",
    )
    assert (
        code == 0
        and "[skipped]  spear_tiny[random-init] / demo_ks  acc=12.5" in out
        and "0 run, 1 already finished" in out
    )
    assert [
        r["value"] for r in json.loads(next((tmp_path / "demo" / "spear_tiny_random-init_").glob("*.json")).read_text())
    ] == [12.5]
