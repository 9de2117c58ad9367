"""The fine-tuning loop: encoder input path, learning-rate scale, freezing, checkpoints and exact resume."""

import dataclasses

import pytest
import torch
from torch import nn

import spear_bench  # noqa: F401
from spear_bench.errors import CheckpointError, ConfigError
from spear_bench.finetune.asr import build_asr_model
from spear_bench.finetune.augment import SpecAugmentConfig
from spear_bench.finetune.config import AsrConfig, OptimConfig, TrainConfig, load_config
from spear_bench.finetune.data import BatchStream, make_sampler
from spear_bench.finetune.librispeech import cut_transcript, librispeech_cuts
from spear_bench.finetune.mini_corpora import make_mini_librispeech
from spear_bench.finetune.tokenizer import CharTokenizer
from spear_bench.finetune.trainer import build_optimizer, train
from spear_bench.models.base import AudioEncoder, EncoderOutput
from spear_bench.train.checkpoint import CHECKPOINTS
from spear_bench.train.log import LOG_NAME

# Tensors here are tiny: extra threads only add synchronisation cost (large on a busy machine).
pytestmark = pytest.mark.usefixtures("one_thread")


class TinyWaveEncoder(AudioEncoder):
    """Waveform-only encoder: one strided convolution, 50 Hz, D = 16."""

    hidden_size = 16
    num_hidden_states = 1

    def __init__(self):
        super().__init__()
        self.proj = nn.Conv1d(1, 16, 320, stride=320)
        self.dropout = nn.Dropout(0.1)  # makes resume exactness depend on the saved RNG state
        self.seen = []

    def forward(self, waves, lengths):
        self.seen.append("waveform")
        x = self.dropout(torch.tanh(self.proj(waves[:, None]))).transpose(1, 2)
        return EncoderOutput(x, (x,), (lengths // 320).clamp(max=x.shape[1]))


class TinyFbankEncoder(TinyWaveEncoder):
    """Takes the 128-bin fbank (like SPEAR's forward_fbank): frames 100 -> 50 Hz."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(128, 16)
        self.inputs = []

    def forward_fbank(self, fbank, fbank_lens):
        self.seen.append("fbank")
        self.inputs.append(fbank.detach().clone())
        x = self.dropout(torch.tanh(self.linear(fbank[:, ::2] / 10)))
        return EncoderOutput(x, (x,), (fbank_lens + 1) // 2)


@pytest.fixture(scope="module")
def train_cuts(tmp_path_factory):
    root = make_mini_librispeech(tmp_path_factory.mktemp("ls"), num_train=3, num_eval=1)
    return librispeech_cuts(root, ["train-clean-100"], manifest_dir=tmp_path_factory.mktemp("man"))["train-clean-100"]


def _ctc_model(encoder, spec_augment=None):
    config = AsrConfig(head="ctc", tokenizer="char", spec_augment=spec_augment or SpecAugmentConfig(enabled=False))
    return build_asr_model(encoder, CharTokenizer(), config)


def _loss_fn(model, batch, generator, step):
    tokenizer = CharTokenizer()
    encoder_out, lengths = model.encode(batch["waves"], batch["lengths"], generator)
    return model.head.loss(encoder_out, lengths, [tokenizer.encode(cut_transcript(c)) for c in batch["cuts"]])


def _train(model, cuts, out_dir, steps, freeze=0, resume=True, key="k", optim=OptimConfig(lr=0.02, warmup_steps=1)):
    config = TrainConfig(
        max_steps=steps,
        freeze_encoder_steps=freeze,
        max_duration=4.0,
        sampler="simple",
        save_every=2,
        log_every=1,
        num_workers=0,
        optim=optim,
    )
    stream = BatchStream(make_sampler("simple", cuts, config.max_duration, shuffle=True, seed=config.seed))
    return train(model, stream, _loss_fn, config, out_dir, key, torch.device("cpu"), resume=resume, progress=False)


def test_fbank_encoders_get_spec_augmented_fbank_and_others_waveforms(train_cuts):
    from spear_bench.finetune.data import CutBatchDataset

    batch = CutBatchDataset()[train_cuts]
    fbank_encoder = TinyFbankEncoder()
    model = _ctc_model(fbank_encoder, SpecAugmentConfig(max_time_fraction=0.3)).train()
    model.encode(batch["waves"], batch["lengths"], torch.Generator().manual_seed(0))
    model.eval()
    model.encode(batch["waves"], batch["lengths"])
    augmented, clean = fbank_encoder.inputs
    assert fbank_encoder.seen == ["fbank", "fbank"] and augmented.shape[-1] == 128
    assert not torch.equal(augmented, clean)  # masked in training mode only
    wave_encoder = TinyWaveEncoder()
    _ctc_model(wave_encoder).encode(batch["waves"], batch["lengths"])
    assert wave_encoder.seen == ["waveform"]


def test_encoder_learning_rate_is_scaled(train_cuts):
    model = _ctc_model(TinyWaveEncoder())
    optimizer, _ = build_optimizer(model, OptimConfig(name="adamw", lr=0.01, encoder_lr_scale=0.05))
    lrs = {g["name"]: g["lr"] for g in optimizer.param_groups}
    assert lrs["encoder"] == pytest.approx(0.05 * lrs["head"])


def test_encoder_is_frozen_for_the_first_steps_then_trained(train_cuts, tmp_path):
    model = _ctc_model(TinyWaveEncoder())
    encoder_start = [p.detach().clone() for p in model.encoder.parameters()]
    head_start = [p.detach().clone() for p in model.head.parameters()]
    _train(model, train_cuts, tmp_path / "a", steps=3, freeze=3)
    assert all(torch.equal(a, b) for a, b in zip(encoder_start, model.encoder.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(head_start, model.head.parameters()))
    _train(model, train_cuts, tmp_path / "a", steps=5, freeze=3)  # resumes at step 3
    assert not all(torch.equal(a, b) for a, b in zip(encoder_start, model.encoder.parameters()))


def test_killed_run_resumes_to_the_same_weights_as_an_uninterrupted_one(train_cuts, tmp_path):
    torch.manual_seed(0)
    straight = _ctc_model(TinyWaveEncoder())
    initial = {k: v.clone() for k, v in straight.state_dict().items()}
    _train(straight, train_cuts, tmp_path / "straight", steps=6)

    interrupted = _ctc_model(TinyWaveEncoder())
    interrupted.load_state_dict(initial)
    _train(interrupted, train_cuts, tmp_path / "resumed", steps=3)  # "killed" after its step-3 checkpoint
    restarted = _ctc_model(TinyWaveEncoder())
    restarted.load_state_dict(initial)
    result = _train(restarted, train_cuts, tmp_path / "resumed", steps=6)
    assert result.resumed_from == 3 and result.steps == 6
    for name, tensor in straight.state_dict().items():
        assert torch.allclose(tensor, restarted.state_dict()[name], atol=1e-6), name
    lines = (tmp_path / "resumed" / LOG_NAME).read_text().splitlines()
    assert len(lines) == 6  # one line per step, none repeated


def test_checkpoint_of_another_setting_is_refused(train_cuts, tmp_path):
    _train(_ctc_model(TinyWaveEncoder()), train_cuts, tmp_path, steps=2, key="one")
    assert (tmp_path / CHECKPOINTS).exists()
    with pytest.raises(CheckpointError, match="--no-resume"):
        _train(_ctc_model(TinyWaveEncoder()), train_cuts, tmp_path, steps=3, key="two")
    _train(_ctc_model(TinyWaveEncoder()), train_cuts, tmp_path, steps=1, key="two", resume=False)


def test_presets_load_with_the_paper_settings():
    ls100 = load_config("asr", "ls100_rnnt")
    assert (ls100.head, ls100.vocab_size, ls100.context_size, ls100.rnnt_loss) == ("rnnt", 500, 2, "pruned")
    assert (ls100.train.optim.encoder_lr_scale, ls100.train.freeze_encoder_steps) == (0.05, 2000)
    ctc = load_config("asr", "ls100_ctc")
    assert (ctc.head, ctc.tokenizer) == ("ctc", "char")
    as2m = load_config("audioset", "as2m")
    assert (
        as2m.train.sampler == "weighted"
        and as2m.mixup.prob == 0.5
        and "unbalanced_train_segments.csv" in as2m.train_csvs
    )


def test_config_errors_name_the_file_and_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: asr\ntrain:\n  max_stepz: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml.*max_stepz"):
        load_config("asr", str(bad))
    bad.write_text("kind: asr\nbeam: four\n")
    with pytest.raises(ConfigError, match=r"bad.yaml\.beam: expected int"):
        load_config("asr", str(bad))
    with pytest.raises(ConfigError, match="presets"):
        load_config("asr", "no_such_preset")
    with pytest.raises(ConfigError, match="not 'audioset'"):
        load_config("audioset", "ls100_rnnt")


def test_overrides_reach_nested_settings():
    config = load_config("asr", "ls100_rnnt", ["train.optim.lr=0.01", "head=ctc", "eval_splits=[test-clean]"])
    assert config.train.optim.lr == 0.01 and config.head == "ctc" and config.eval_splits == ["test-clean"]
    assert dataclasses.asdict(config)["train"]["max_steps"] == 48600
