"""The shared training plumbing: atomic writes, checkpoint layout, random states, device choice, the log."""

import json
import os
import random
import stat

import numpy as np
import pytest
import torch

from spear_bench.atomic_io import atomic_path, atomic_write_text, atomic_write_with
from spear_bench.errors import CheckpointError, ConfigError
from spear_bench.train.checkpoint import (
    CHECKPOINTS,
    latest_checkpoint,
    load_checkpoint,
    load_state,
    save_checkpoint,
    save_state,
)
from spear_bench.train.device import select_device
from spear_bench.train.log import LOG_NAME, TrainLog, read_log
from spear_bench.train.rng import capture_rng, restore_rng


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "state.pt"
    atomic_write_text(path, "old")

    def half_then_fail(handle):
        handle.write(b"new, half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic_write_with(path, half_then_fail)
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("new, half")
        raise RuntimeError("killed")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["state.pt"]


def test_atomic_writes_get_the_permissions_of_a_plain_open(tmp_path):
    atomic_write_text(tmp_path / "a.json", "{}")
    (tmp_path / "b.json").write_text("{}")
    mode = stat.S_IMODE(os.stat(tmp_path / "a.json").st_mode)
    assert mode == stat.S_IMODE(os.stat(tmp_path / "b.json").st_mode)


def _save(run_dir, step, keep_last=2):
    return save_checkpoint(run_dir, step, {"step": step, "w": torch.full((2,), float(step))}, {"r": step}, 0, keep_last)


def test_checkpoints_keep_the_last_n_and_latest_names_the_newest(tmp_path):
    for step in (3, 6, 9):
        _save(tmp_path, step)
    assert sorted(p.name for p in (tmp_path / CHECKPOINTS).glob("step-*")) == ["step-00000006", "step-00000009"]
    state, rng = load_checkpoint(latest_checkpoint(tmp_path))
    assert state["step"] == 9 and rng == {"r": 9}


def test_a_run_started_over_drops_the_later_checkpoints_of_the_earlier_run(tmp_path):
    for step in (3, 6, 9):
        _save(tmp_path, step, keep_last=3)
    _save(tmp_path, 2, keep_last=3)  # a fresh run in the same folder: step 9 is not its future
    assert sorted(p.name for p in (tmp_path / CHECKPOINTS).glob("step-*")) == ["step-00000002"]
    assert latest_checkpoint(tmp_path).name == "step-00000002"


class _Opaque:
    """Not a tensor or plain value: loading it would run arbitrary unpickling."""


def test_no_checkpoint_is_none_and_a_pickled_object_is_refused(tmp_path):
    assert latest_checkpoint(tmp_path) is None
    torch.save({"object": _Opaque()}, tmp_path / "unsafe.pt")
    with pytest.raises(CheckpointError, match="unsafe.pt"):
        load_state(tmp_path / "unsafe.pt")
    save_state({"x": torch.ones(2), "note": "plain values load"}, tmp_path / "safe.pt")
    assert load_state(tmp_path / "safe.pt")["note"] == "plain values load"


def test_restored_random_states_repeat_the_same_draws(tmp_path):
    generator = torch.Generator().manual_seed(1)
    save_state(capture_rng(generator), tmp_path / "rng.pt")
    first = (torch.rand(3), random.random(), np.random.rand(), torch.rand(1, generator=generator))
    torch.manual_seed(99), random.seed(99), np.random.seed(99), generator.manual_seed(99)
    restore_rng(load_state(tmp_path / "rng.pt"), generator)
    again = (torch.rand(3), random.random(), np.random.rand(), torch.rand(1, generator=generator))
    assert torch.equal(first[0], again[0]) and first[1:3] == again[1:3] and torch.equal(first[3], again[3])


def test_device_choice(monkeypatch):
    assert select_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("SPEAR_BENCH_CPU", "1")
    assert select_device("auto", rank=1) == torch.device("cpu")
    with pytest.raises(ConfigError, match="train.device"):
        select_device("tpu:7")


def test_a_resumed_log_keeps_the_steps_up_to_its_checkpoint_and_no_half_line(tmp_path):
    log = TrainLog(tmp_path)
    for step in (1, 2, 3):
        log.write({"step": step, "loss": 1.0 / step})
    with open(tmp_path / LOG_NAME, "a") as handle:
        handle.write('{"step": 4, "lo')  # killed mid-write
    assert [r["step"] for r in read_log(tmp_path)] == [1, 2, 3]
    TrainLog(tmp_path).start(2)
    assert [json.loads(line)["step"] for line in (tmp_path / LOG_NAME).read_text().splitlines()] == [1, 2]
