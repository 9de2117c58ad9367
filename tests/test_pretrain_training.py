"""End to end pre-training on generated data: teachers -> MVQ -> tokens -> training, exact resume, DDP."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import spear_bench
from spear_bench.pretrain.config import load_pretrain_config
from spear_bench.pretrain.data import token_field
from spear_bench.pretrain.mvq import TrainedQuantizer
from spear_bench.pretrain.pipeline import layout, prepare_training_data
from spear_bench.pretrain.trainer import PretrainTrainer, _num_codebooks, read_log, run_pretraining

# An even smaller SPEAR than spear_tiny: same seven-stack structure, 48 dims, one layer per stack.
TINY_SPEAR = {
    "encoder_dim": 48,
    "feedforward_dim": 96,
    "num_encoder_layers": [1, 1, 1, 1, 1, 1, 1],
    "encoder_unmasked_dim": 32,
    "num_heads": 2,
    "cnn_module_kernel": [7, 7, 5, 5, 5, 7, 7],
}


def _config_dict(work_dir: Path, tiny_wavlm: dict) -> dict:
    return {
        "work_dir": str(work_dir),
        "data": {"demo": {"num_speech": 5, "num_audio": 3, "num_noises": 1, "seed": 1}},
        "token_sets": [
            {
                "name": "speech",
                "teacher": {"name": "wavlm_large", "layer": 1, "overrides": tiny_wavlm, "random_init": True},
                "mvq": {"num_codebooks": 2, "phase_one_iters": 20, "phase_two_iters": 20, "batch_frames": 256},
            },
            {
                "name": "audio",
                "teacher": {
                    "name": "dasheng_1_2b",
                    "overrides": {"embed_dim": 32, "depth": 1, "num_heads": 2},
                    "random_init": True,
                },
                "mvq": {"num_codebooks": 2, "phase_one_iters": 20, "phase_two_iters": 20, "batch_frames": 256},
            },
        ],
        "model": {"size": "tiny", "overrides": TINY_SPEAR, "seed": 0},
        # High mixing probabilities so that every random path runs in a few steps.
        "augment": {"token_mixing": {"prob": 0.5}, "noise": {"prob_speech": 0.5, "prob_audio": 0.5}},
        "schedule": {"lr_steps": 50, "lr_epochs": 5, "warmup_steps": 5},
        "optim": {"clipping_update_period": 4},
        "train": {
            "max_steps": 6,
            "batch_duration": 8.0,
            "save_every": 3,
            "keep_last": 2,
            "log_every": 1,
            "tensorboard": True,
            "seed": 3,
        },
    }


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, tiny_wavlm):
    root = tmp_path_factory.mktemp("pretrain")
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump(_config_dict(root / "work", tiny_wavlm)))
    config = load_pretrain_config(path)
    cuts = prepare_training_data(config, progress=False)
    return path, config, cuts


def _with_work_dir(config_path: Path, work_dir: Path):
    """The same experiment in another work_dir, sharing the prepared data/features/tokens."""
    base = load_pretrain_config(config_path)
    shutil.rmtree(work_dir, ignore_errors=True)
    shutil.copytree(base.work_path, work_dir, ignore=shutil.ignore_patterns("exp"))
    return load_pretrain_config(config_path, {"work_dir": str(work_dir)})


def test_tokens_are_uint8_beside_the_cuts_with_their_frame_rate(prepared):
    _, config, cuts = prepared
    assert {c.custom["domain"] for c in cuts} == {"speech", "audio"}
    for cut in cuts:
        speech = cut.load_custom(token_field("speech"))
        audio = cut.load_custom(token_field("audio"))
        assert speech.dtype == np.uint8 and audio.dtype == np.uint8
        assert getattr(cut, token_field("speech")).frame_shift == pytest.approx(0.02)
        assert getattr(cut, token_field("audio")).frame_shift == pytest.approx(0.04)
        assert speech.shape[1] == 2 and abs(speech.shape[0] - cut.duration * 50) <= 2
        assert abs(audio.shape[0] - cut.duration * 25) <= 2


def test_quantizer_file_carries_normalisation_and_teacher_facts(prepared):
    _, config, _ = prepared
    q = TrainedQuantizer.load(layout(config).quantizer(config.token_set("speech")))
    assert q.meta["teacher"] == "wavlm_large[random-init]" and q.meta["layer"] == 1 and q.meta["frame_rate"] == 50.0
    assert q.mean.shape == (32,) and q.std.shape == (32,) and bool((q.std > 0).all())
    assert q.num_codebooks == 2 and q.quantizer.codebook_size == 256
    feats = torch.randn(7, 32) * q.std + q.mean
    assert q.encode(feats).dtype == torch.uint8


def _pretrain_command(config_path: Path, work_dir: Path, steps: int) -> list[str]:
    """``spear-bench pretrain`` in its own interpreter, as a user's run would be."""
    import sys

    argv = ["pretrain", "--config", str(config_path), "--work-dir", str(work_dir), "--max-steps", str(steps), "--quiet"]
    return [sys.executable, "-c", f"from spear_bench.cli import main; raise SystemExit(main({argv!r}))"]


def _pretrain_in_a_new_process(config_path: Path, work_dir: Path, steps: int) -> None:
    import subprocess

    done = subprocess.run(_pretrain_command(config_path, work_dir, steps), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def _kill_when_logged(config_path: Path, work_dir: Path, steps: int, kill_after: int) -> int:
    """Start a run of ``steps`` steps and SIGKILL it once step ``kill_after`` is logged;
    returns the last step logged."""
    import signal
    import subprocess
    import time

    log_path = work_dir / "exp" / "log.jsonl"
    process = subprocess.Popen(
        _pretrain_command(config_path, work_dir, steps), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        lines = log_path.read_text().count("\n") if log_path.is_file() else 0
        if lines >= kill_after:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, (
        f"the run ended before it could be killed: {process.stderr.read()[-2000:]!r}"
    )
    return len(read_log(work_dir / "exp"))


@pytest.mark.slow
def test_resume_from_a_checkpoint_reproduces_the_uninterrupted_losses_exactly(prepared, tmp_path):
    # Each run is a fresh process: the straight run; a run killed with SIGKILL after step 4
    # or 5 (checkpoints every 3 steps: steps after 3 are lost and the log holds some of
    # them); and the resumed run, which rebuilds everything from the config, loads the
    # step-3 checkpoint, drops the lost steps from the log and trains them again.
    config_path, base, cuts = prepared
    keys = (
        "loss",
        "speech_masked_ce",
        "speech_unmasked_ce",
        "audio_masked_ce",
        "lr",
        "clip",
        "token_mixed",
        "noise_mixed",
    )
    steps = 12

    straight_dir, resumed_dir = tmp_path / "straight", tmp_path / "resumed"
    _with_work_dir(config_path, straight_dir)
    _with_work_dir(config_path, resumed_dir)
    _pretrain_in_a_new_process(config_path, straight_dir, steps)
    logged = _kill_when_logged(config_path, resumed_dir, steps, kill_after=4)
    assert 4 <= logged < steps
    last_checkpoint = sorted(p.name for p in (resumed_dir / "exp" / "checkpoints").glob("step-*"))[-1]
    assert int(last_checkpoint.split("-")[1]) < logged or logged % 3 == 0
    _pretrain_in_a_new_process(config_path, resumed_dir, steps)

    straight_log, resumed_log = read_log(straight_dir / "exp"), read_log(resumed_dir / "exp")
    assert [r["step"] for r in resumed_log] == list(range(1, steps + 1))  # nothing lost, nothing twice
    a = [{k: r[k] for k in keys} for r in straight_log]
    b = [{k: r[k] for k in keys} for r in resumed_log]
    assert a == b  # bit-exact (floats compared with ==)
    assert sum(r["token_mixed"] + r["noise_mixed"] for r in a) > 0


def test_a_killed_runs_half_written_log_line_is_dropped_on_resume(prepared, tmp_path):
    config_path, base, cuts = prepared
    cfg = _with_work_dir(config_path, tmp_path / "run")
    PretrainTrainer(cfg, cuts, _num_codebooks(cfg), progress=False).run(3)
    log_path = cfg.work_path / "exp" / "log.jsonl"
    with open(log_path, "a") as handle:
        handle.write('{"step": 4, "loss": 3.1')  # SIGKILL in the middle of a write
    resumed = PretrainTrainer(cfg, cuts, _num_codebooks(cfg), progress=False).run(4)
    assert resumed.resumed_from == 3
    assert [r["step"] for r in read_log(cfg.work_path / "exp")] == [1, 2, 3, 4]


def test_a_resumed_trainer_reproduces_the_uninterrupted_losses_in_process(prepared, tmp_path):
    # Fast version of the test above: one process, a clean stop at step 3, then a new
    # trainer rebuilt from the config resumes from the step-3 checkpoint.
    config_path, base, cuts = prepared
    keys = (
        "loss",
        "speech_masked_ce",
        "speech_unmasked_ce",
        "audio_masked_ce",
        "lr",
        "clip",
        "token_mixed",
        "noise_mixed",
    )
    straight_cfg = _with_work_dir(config_path, tmp_path / "straight")
    straight = PretrainTrainer(straight_cfg, cuts, _num_codebooks(straight_cfg), progress=False).run(8)
    resumed_cfg = _with_work_dir(config_path, tmp_path / "resumed")
    first = PretrainTrainer(resumed_cfg, cuts, _num_codebooks(resumed_cfg), progress=False).run(3)
    assert first.final_step == 3
    del first
    second = PretrainTrainer(resumed_cfg, cuts, _num_codebooks(resumed_cfg), progress=False).run(8)
    assert second.resumed_from == 3 and second.final_step == straight.final_step == 8
    a = [{k: r[k] for k in keys} for r in read_log(straight_cfg.work_path / "exp")]
    b = [{k: r[k] for k in keys} for r in read_log(resumed_cfg.work_path / "exp")]
    assert len(a) == 8 and a == b  # bit-exact


def test_checkpoint_encoder_loads_with_load_encoder(prepared, tmp_path):
    config_path, _, cuts = prepared
    cfg = _with_work_dir(config_path, tmp_path / "run")
    trainer = PretrainTrainer(cfg, cuts, _num_codebooks(cfg), progress=False)
    trainer.run(2)
    encoder = spear_bench.load_encoder(str(cfg.work_path / "exp" / "encoder"))
    for (name, p), q in zip(trainer.model.encoder.state_dict().items(), encoder.state_dict().values()):
        assert torch.equal(p, q), name
    out = encoder(torch.randn(1, 16000), torch.tensor([16000]))
    assert out.last_hidden_state.shape[-1] == 48 and torch.isfinite(out.last_hidden_state).all()
    # the s3prl upstream for local SPEAR checkpoints reads the same folder
    from spear_bench.upstreams import hub_entries, make_hub_entry

    upstream = make_hub_entry(hub_entries()["spear_local"])(ckpt=str(cfg.work_path / "exp" / "encoder"))
    hidden = upstream([torch.randn(16000)])["hidden_states"]
    assert len(hidden) == encoder.num_hidden_states and hidden[-1].shape[-1] == 48
    checkpoints = sorted((cfg.work_path / "exp" / "checkpoints").glob("step-*"))
    assert [c.name for c in checkpoints] == ["step-00000002"]
    assert (checkpoints[0] / "encoder" / "config.json").is_file()


def test_pretrain_cli_runs_from_the_yaml_and_reports_losses(prepared, tmp_path, capsys):
    from spear_bench.cli import main

    config_path, _, _ = prepared
    _with_work_dir(config_path, tmp_path / "cli")
    code = main(
        ["pretrain", "--config", str(config_path), "--work-dir", str(tmp_path / "cli"), "--max-steps", "2", "--quiet"]
    )
    assert code == 0
    out = capsys.readouterr().out
    summary = json.loads(out.splitlines()[0])
    assert summary["steps"] == "1..2" and set(summary["speech_masked_ce"]) == {
        "first",
        "last",
        "first_mean",
        "last_mean",
    }


def test_unknown_config_key_is_a_one_line_error_naming_the_file(tmp_path):
    from spear_bench.errors import ConfigError

    path = tmp_path / "bad.yaml"
    path.write_text("loss: {alpha: 0.5, lambda: 0.1}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml.*loss.*lambda"):
        load_pretrain_config(path)


@pytest.mark.slow
def test_masked_token_cross_entropy_drops_when_overfitting_a_small_set(prepared, tmp_path):
    config_path, _, cuts = prepared
    cfg = _with_work_dir(config_path, tmp_path / "fit")
    cfg = load_pretrain_config(
        config_path,
        {
            "work_dir": str(cfg.work_path),
            "augment": {"token_mixing": None, "noise": None},
            "schedule": {"lr_steps": 1000, "warmup_steps": 1},
        },
    )
    result = PretrainTrainer(cfg, cuts, _num_codebooks(cfg), progress=False).run(40)
    ce = [r["speech_masked_ce"] for r in result.records if r["speech_masked_ce"] is not None]
    assert np.mean(ce[-8:]) < np.mean(ce[:8]) - 0.3


@pytest.mark.slow
def test_two_process_ddp_on_cpu_trains_and_keeps_ranks_in_sync(prepared, tmp_path):
    config_path, _, _ = prepared
    cfg = _with_work_dir(config_path, tmp_path / "ddp")
    cfg = load_pretrain_config(config_path, {"work_dir": str(cfg.work_path), "train": {"batch_duration": 4.0}})
    result = run_pretraining(cfg, nproc=2, max_steps=3, progress=False)
    assert [r["step"] for r in result.records] == [1, 2, 3]
    assert all(np.isfinite(r["loss"]) for r in result.records)
    state = torch.load(cfg.work_path / "exp" / "checkpoints" / "step-00000003" / "train_state.pt", weights_only=True)
    assert state["world_size"] == 2
    assert (cfg.work_path / "exp" / "checkpoints" / "step-00000003" / "rng-rank1.pt").is_file()
