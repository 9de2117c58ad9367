"""Pre-training data: lhotse cut manifests, generated demo data, a resumable batch sampler, batches.

Every utterance is a lhotse ``MonoCut`` whose ``custom["domain"]`` is ``speech`` or
``audio``; after MVQ encoding each cut also carries one uint8 ``TemporalArray`` per token
set (``<name>_tokens``, frame shift 1 / teacher frame rate) written with lhotse's
``NumpyFilesWriter`` beside the manifest.

The sampler is deterministic and position-addressable: epoch ``e``'s batches are a
function of (seed, e) only, so a resumed run continues at (epoch, batch index) exactly.
With ``world_size`` ranks, every rank takes every ``world_size``-th batch of the same
global list (trailing batches that do not fill all ranks are dropped).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from spear_bench.atomic_io import atomic_path
from spear_bench.audio import collate_waveforms, find_audio_files, load_audio
from spear_bench.audio.synth import VOICES, chirp, clicks, noise, place, speak, tone, write_wav
from spear_bench.errors import DatasetError
from spear_bench.pretrain.losses import IGNORE_INDEX
from spear_bench.pretrain.mixing import Sample
from spear_bench.pretrain.mvq import tokens_to_frame_rate
from spear_bench.pretrain.strategies import DOMAINS

TARGET_FRAME_RATE = 50.0


def token_field(name: str) -> str:
    return f"{name}_tokens"


# -- manifests ---------------------------------------------------------------------------


def cuts_from_folders(folders_by_domain: dict[str, list[str]]):
    """A CutSet of every audio file under the given folders, ``custom["domain"]`` set; ids are unique."""
    from lhotse import CutSet, Recording  # heavy (~1 s): paid only where cuts are handled

    cuts, seen = [], set()
    for domain, folders in folders_by_domain.items():
        for path in find_audio_files(list(folders)) if folders else []:
            cut_id = f"{domain}-{path.stem}"
            if cut_id in seen:
                raise DatasetError(
                    f"{path}: two files named {path.stem!r} in the {domain} folders (ids must be unique)"
                )
            seen.add(cut_id)
            cut = Recording.from_file(str(path.resolve()), recording_id=cut_id).to_cut()
            cut.custom = {"domain": domain}
            cuts.append(cut)
    if not cuts:
        raise DatasetError(f"no audio files found in {folders_by_domain}")
    return CutSet.from_cuts(cuts)


def load_cuts(path: str | Path):
    from lhotse import load_manifest  # heavy (~1 s): paid only where cuts are handled

    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such cut manifest")
    cuts = load_manifest(path)
    for cut in cuts:
        domain = (cut.custom or {}).get("domain")
        if domain not in DOMAINS:
            raise DatasetError(
                f"{path}: cut {cut.id!r} has domain {domain!r}; every cut needs custom.domain in {list(DOMAINS)}"
            )
    return cuts


def cut_waveform(cut) -> torch.Tensor:
    """(S,) float32 mono 16 kHz waveform of a cut."""
    audio = cut.load_audio()
    if audio.shape[0] != 1 or cut.sampling_rate != 16000:
        raise DatasetError(
            f"cut {cut.id}: expected mono 16 kHz audio, got {audio.shape[0]} channels at {cut.sampling_rate} Hz"
        )
    return torch.from_numpy(np.ascontiguousarray(audio[0], dtype=np.float32))


# -- demo data ---------------------------------------------------------------------------

DEMO_SENTENCES = (
    "the birch canoe slid on the smooth planks",
    "glue the sheet to the dark blue background",
    "it is easy to tell the depth of a well",
    "these days a chicken leg is a rare dish",
    "rice is often served in round bowls",
    "the juice of lemons makes fine punch",
    "the box was thrown beside the parked truck",
    "four hours of steady work faced us",
    "a large size in stockings is hard to sell",
    "the boy was there when the sun rose",
    "a rod is used to catch pink salmon",
    "the source of the huge river is the clear spring",
    "kick the ball straight and follow through",
    "help the woman get back to her feet",
    "a pot of tea helps to pass the evening",
    "smoky fires lack flame and heat",
    "the soft cushion broke the man's fall",
    "the salt breeze came across from the sea",
    "the girl at the booth sold fifty bonds",
    "the small pup gnawed a hole in the sock",
)


@dataclass(frozen=True)
class DemoDataConfig:
    num_speech: int = 24
    num_audio: int = 12
    num_noises: int = 4
    seed: int = 0


def generate_demo_data(folder: str | Path, config: DemoDataConfig, progress: bool = True) -> Path:
    """espeak-ng speech, synthetic sound scenes and noise clips under ``folder``; returns the cut manifest.

    Reuses an existing manifest (the generation is deterministic).
    """
    from lhotse import CutSet  # heavy (~1 s): paid only where cuts are handled

    folder = Path(folder)
    manifest = folder / "cuts.jsonl.gz"
    if manifest.is_file():
        return manifest
    gen = torch.Generator().manual_seed(config.seed)

    def uniform(low: float, high: float) -> float:
        return low + (high - low) * float(torch.rand((), generator=gen))

    cuts = []
    total = config.num_speech + config.num_audio + config.num_noises
    with tqdm(total=total, desc="demo data", unit="file", disable=not progress) as bar:
        for i in range(config.num_speech):
            text = " ".join(DEMO_SENTENCES[(i + k) % len(DEMO_SENTENCES)] for k in range(1 + i % 2))
            voice = VOICES[i % len(VOICES)]
            wave = speak(text, voice=voice, speed=int(uniform(140, 190)), pitch=int(uniform(30, 70)))
            cuts.append(_demo_cut(write_wav(folder / "speech" / f"speech-{i:03d}.wav", wave), "speech"))
            bar.update(1)
        for i in range(config.num_audio):
            duration = uniform(1.5, 4.0)
            seed = config.seed * 1000 + i
            events = [
                (uniform(0, duration / 2), tone(uniform(200, 2000), uniform(0.3, 1.0), harmonics=1 + i % 4)),
                (uniform(0, duration / 2), chirp(uniform(100, 500), uniform(1000, 6000), uniform(0.3, 1.2))),
                (0.0, clicks(uniform(2, 12), duration, seed=seed, amplitude=0.3)),
                (0.0, noise(duration, seed=seed + 1, amplitude=0.02, color=("white", "pink", "brown")[i % 3])),
            ]
            wave = place(events, duration)
            cuts.append(_demo_cut(write_wav(folder / "audio" / f"audio-{i:03d}.wav", wave), "audio"))
            bar.update(1)
        for i in range(config.num_noises):
            wave = noise(3.0, seed=config.seed * 1000 + 500 + i, amplitude=0.1, color=("white", "pink", "brown")[i % 3])
            write_wav(folder / "noise" / f"noise-{i:03d}.wav", wave)
            bar.update(1)
    with atomic_path(manifest, suffix=".jsonl.gz") as tmp:  # lhotse picks the format from the suffix
        CutSet.from_cuts(cuts).to_file(tmp)
    return manifest


def _demo_cut(path: Path, domain: str):
    from lhotse import Recording  # heavy (~1 s): paid only where cuts are handled

    cut = Recording.from_file(str(path.resolve()), recording_id=f"{domain}-{path.stem}").to_cut()
    cut.custom = {"domain": domain}
    return cut


def load_noises(folders: list[str | Path]) -> list[torch.Tensor]:
    return [load_audio(p) for p in find_audio_files(list(folders))] if folders else []


# -- sampler -----------------------------------------------------------------------------


class EpochBatchSampler:
    """Deterministic batches of cut indices; ``batches(epoch)`` depends only on (seed, epoch).

    A batch holds as many cuts as fit ``max_duration`` seconds of padded audio
    (batch size x longest cut), at least one; cuts are grouped in the order of a seeded
    shuffle.
    """

    def __init__(self, durations: list[float], max_duration: float, seed: int, world_size: int = 1, rank: int = 0):
        if not durations:
            raise DatasetError("the pre-training set is empty")
        self.durations = list(durations)
        self.max_duration = max_duration
        self.seed = seed
        self.world_size = world_size
        self.rank = rank

    def global_batches(self, epoch: int) -> list[list[int]]:
        gen = torch.Generator().manual_seed(self.seed * 100003 + epoch)
        order = torch.randperm(len(self.durations), generator=gen).tolist()
        batches, current, longest = [], [], 0.0
        for index in order:
            duration = self.durations[index]
            if current and max(longest, duration) * (len(current) + 1) > self.max_duration:
                batches.append(current)
                current, longest = [], 0.0
            current.append(index)
            longest = max(longest, duration)
        if current:
            batches.append(current)
        usable = len(batches) - len(batches) % self.world_size
        if usable == 0:
            raise DatasetError(
                f"only {len(batches)} batch(es) per epoch for {self.world_size} ranks: "
                "lower train.batch_duration or add data"
            )
        return batches[:usable]

    def batches(self, epoch: int) -> list[list[int]]:
        return self.global_batches(epoch)[self.rank :: self.world_size]


# -- samples and batches -----------------------------------------------------------------


class PretrainDataset:
    """Cuts with tokens -> :class:`Sample` (waveform + 50 Hz int64 targets per token set)."""

    def __init__(self, cuts, token_sets: list[str], cache_audio: bool = True):
        self.cuts = list(cuts)
        self.token_sets = list(token_sets)
        self._audio: dict[int, torch.Tensor] = {}
        self.cache_audio = cache_audio

    def __len__(self) -> int:
        return len(self.cuts)

    @property
    def durations(self) -> list[float]:
        return [float(c.duration) for c in self.cuts]

    def sample(self, index: int) -> Sample:
        cut = self.cuts[index]
        wave = self._audio.get(index)
        if wave is None:
            wave = cut_waveform(cut)
            if self.cache_audio:
                self._audio[index] = wave
        tokens = {}
        for name in self.token_sets:
            field = token_field(name)
            if cut.has_custom(field):
                array = getattr(cut, field)
                raw = torch.from_numpy(np.asarray(cut.load_custom(field))).long()
                tokens[name] = tokens_to_frame_rate(raw, round(1.0 / array.frame_shift, 6), TARGET_FRAME_RATE)
        return Sample(cut.id, wave, cut.custom["domain"], tokens)


@dataclass
class Batch:
    """A collated batch. Targets are (B, T50, N) int64 with IGNORE_INDEX where there is none."""

    cut_ids: list[str]
    domains: list[str]
    waves: torch.Tensor  # (B, S)
    wave_lens: torch.Tensor  # (B,)
    targets: dict[str, torch.Tensor]
    num_token_mixed: int
    num_noise_mixed: int

    @property
    def seconds(self) -> float:
        return float(self.wave_lens.sum()) / 16000.0


def collate(samples: list[Sample], num_codebooks: dict[str, int]) -> Batch:
    waves, lens = collate_waveforms([s.wave for s in samples])
    frames = max([1] + [t.shape[0] for s in samples for t in s.tokens.values()])
    targets = {}
    for name, n in num_codebooks.items():
        out = torch.full((len(samples), frames, n), IGNORE_INDEX, dtype=torch.long)
        for b, s in enumerate(samples):
            if name in s.tokens:
                tok = s.tokens[name]
                out[b, : tok.shape[0]] = tok
        targets[name] = out
    return Batch(
        [s.cut_id for s in samples],
        [s.domain for s in samples],
        waves,
        lens,
        targets,
        sum(s.mixed_with is not None for s in samples),
        sum(s.noise_snr is not None for s in samples),
    )


def align_targets(targets: torch.Tensor, encoder_lens: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Targets (B, T', N) cut or padded to the encoder's ``num_frames``, ignored beyond each utterance's length.

    The student's 50 Hz frames ((T_fbank - 7) // 2) and the teacher's differ by a few frames
    at the end; the extra frames of either side get no loss (as in the release).
    """
    batch, frames, n = targets.shape
    out = torch.full((batch, num_frames, n), IGNORE_INDEX, dtype=torch.long)
    keep = min(frames, num_frames)
    out[:, :keep] = targets[:, :keep]
    beyond = torch.arange(num_frames)[None, :] >= encoder_lens.cpu()[:, None]
    out[beyond] = IGNORE_INDEX
    return out
