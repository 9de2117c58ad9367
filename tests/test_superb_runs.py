"""SUPERB run folders once scored: what ``--keep-checkpoints`` keeps (superb.runs.prune_checkpoints), on
s3prl's two layouts (s3prl.problem's train/step_N + train/valid_best; the legacy runner's states-N.ckpt)."""

from pathlib import Path

import pytest

from spear_bench.bench.orchestrate import RunConfig
from spear_bench.errors import ConfigError
from spear_bench.superb.runs import prune_checkpoints


def _file(path: Path, size: int = 100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    return path


def _problem_fold(root: Path, best: bool = True) -> Path:
    """A scored s3prl.problem fold: two resume points, the dev-best checkpoint, the test result."""
    for step in ("step_2", "step_4"):
        _file(root / "train" / step / "model" / "state_dict.pt")
        _file(root / "train" / step / "optimizer.pt")
        _file(root / "train" / step / "training_stats.yaml", 10)
    if best:
        _file(root / "train" / "valid_best" / "model" / "state_dict.pt")
        _file(root / "train" / "valid_best" / "optimizer.pt")
        _file(root / "train" / "valid_best" / "training_stats.yaml", 10)
    _file(root / "evaluate" / "valid_best" / "test" / "result.yaml", 10)
    return root


def _legacy_unit(root: Path, best: bool = True) -> Path:
    for step in (2, 4):
        _file(root / f"states-{step}.ckpt")
    if best:
        _file(root / "best-states-dev.ckpt")
    _file(root / "metrics.json", 10)
    _file(root / "test_metrics.txt", 10)
    return root


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_all_keeps_everything(tmp_path):
    fold, unit = _problem_fold(tmp_path / "fold"), _legacy_unit(tmp_path / "unit")
    before = _files(tmp_path)
    assert prune_checkpoints(fold, "all") == prune_checkpoints(unit, "all") == 0
    assert _files(tmp_path) == before


def test_best_keeps_the_tested_checkpoint_and_every_score(tmp_path):
    fold = _problem_fold(tmp_path / "fold")
    assert prune_checkpoints(fold, "best") == 420  # two resume points: 2 x (100 + 100 + 10) bytes
    assert _files(fold) == {
        "train/valid_best/model/state_dict.pt",
        "train/valid_best/optimizer.pt",
        "train/valid_best/training_stats.yaml",
        "evaluate/valid_best/test/result.yaml",
    }
    unit = _legacy_unit(tmp_path / "unit")
    assert prune_checkpoints(unit, "best") == 200
    assert _files(unit) == {"best-states-dev.ckpt", "metrics.json", "test_metrics.txt"}


def test_best_without_a_dev_best_keeps_the_last_step(tmp_path):
    """Recipes that never validate (SuperbASV, VC) test their last checkpoint: that one stays."""
    fold = _problem_fold(tmp_path / "fold", best=False)
    prune_checkpoints(fold, "best")
    assert {p.name for p in (fold / "train").iterdir()} == {"step_4"}
    unit = _legacy_unit(tmp_path / "unit", best=False)
    prune_checkpoints(unit, "best")
    assert _files(unit) == {"states-4.ckpt", "metrics.json", "test_metrics.txt"}


def test_none_keeps_no_weights_but_every_score_and_statistic(tmp_path):
    fold, unit = _problem_fold(tmp_path / "fold"), _legacy_unit(tmp_path / "unit")
    assert prune_checkpoints(fold, "none") == 620 and prune_checkpoints(unit, "none") == 300
    assert _files(fold) == {"train/valid_best/training_stats.yaml", "evaluate/valid_best/test/result.yaml"}
    assert _files(unit) == {"metrics.json", "test_metrics.txt"}


def test_a_folder_that_is_not_there_frees_nothing(tmp_path):
    assert prune_checkpoints(tmp_path / "absent", "none") == 0


def test_an_unknown_choice_is_a_one_line_error():
    with pytest.raises(ConfigError, match=r"^--keep-checkpoints 'some': expected one of all, best, none$"):
        RunConfig(suite="demo", models=("spear_tiny[random-init]",), keep_checkpoints="some")
    with pytest.raises(ValueError, match="keep must be one of"):
        prune_checkpoints(Path("."), "some")
