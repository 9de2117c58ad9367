"""SUPERB for one (model, task): s3prl upstream -> Featurizer weighted sum -> s3prl downstream head.

Built from s3prl's library API (``s3prl.nn``): the model's hub entry through
``S3PRLUpstream`` (registered by :func:`spear_bench.upstreams.register`), the SUPERB
``Featurizer`` (softmax-weighted sum of all hidden states, trainable weights) and s3prl's
heads: ``MeanPoolingLinear`` for utterance tasks (KS, IC, SID, ER), ``FrameLevelLinear``
(PR) or ``RNNEncoder`` (2 x BLSTM, ASR) with CTC. The training loop is spear-bench's own;
where it differs from s3prl's recipes (docs/orchestration.md has the list):

* the upstream is frozen and deterministic (eval mode, as in s3prl), so its hidden states
  are computed once per file and cached (float16) when the corpus fits the cache budget,
  instead of being recomputed at every step; above the budget they are computed per batch;
* no SpecAugment on ASR, greedy CTC decoding without a language model;
* Adam with a constant learning rate, gradient clipping, the recipe's batch size,
  gradient accumulation, total steps and validation interval (the best dev checkpoint is
  tested), as the s3prl problem configs give; IEMOCAP's dev split is a fixed 1-in-5 pick.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import jiwer
import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F

from spear_bench import upstreams
from spear_bench.audio import load_audio
from spear_bench.bench.cache import EmbeddingCache
from spear_bench.bench.extract import ExtractConfig, audio_length, load_batches, pad, precision, timed
from spear_bench.bench.fingerprint import embedding_settings
from spear_bench.bench.runner import EmbedStats, RunContext, TaskResult
from spear_bench.bench.scored_model import BenchModel
from spear_bench.bench.superb_data import SuperbData, SuperbItem, read_dataset
from spear_bench.errors import AudioError, ConfigError
from spear_bench.hashing import file_hash, state_dict_hash
from spear_bench.s3prl_compat import apply_s3prl_compat
from spear_bench.task_registry import SuperbProtocol, SuperbTaskSpec

DEFAULT_CACHE_BUDGET_BYTES = 8 * 1024**3


# --- upstream and features -------------------------------------------------------------------------


class Upstream:
    """The model as an s3prl upstream (S3PRLUpstream), loaded on first use."""

    def __init__(self, model: BenchModel, device: str = "cpu", dtype: str = "float32"):
        if model.s3prl_upstream is None:
            raise ConfigError(
                f"model {model.name!r} has no s3prl upstream (HEAR-only module); SUPERB needs a registered model"
            )
        self.model = model
        self.device = device
        self.dtype = dtype  # float32 | bfloat16 | float16 (autocast, spear_bench.bench.extract)
        self._upstream = None
        self._hash: str | None = None

    def load(self):
        if self._upstream is None:
            upstreams.register()  # the s3prl hub entries of this project's models
            from s3prl.nn import S3PRLUpstream  # heavy optional dependency, loaded with the first upstream

            upstream = S3PRLUpstream(self.model.s3prl_upstream, path_or_url=self.model.s3prl_ckpt)
            self._upstream = upstream.to(self.device).eval()
        return self._upstream

    @property
    def weights_hash(self) -> str:
        if self._hash is None:
            self._hash = state_dict_hash(self.load())
        return self._hash

    @torch.no_grad()
    def hidden_states(self, waves: list[torch.Tensor]) -> list[torch.Tensor]:
        """Per item: (L, T_i, D) hidden states of all layers."""
        upstream = self.load()
        padded, lengths = pad(waves)
        with precision(self.dtype, self.device):
            all_hs, all_lens = upstream(padded.to(self.device), lengths.to(self.device))
        out = []
        for i in range(len(waves)):
            out.append(torch.stack([h[i, : int(lens[i])] for h, lens in zip(all_hs, all_lens)]).float().cpu())
        return out


def load_item_audio(item: SuperbItem) -> torch.Tensor:
    wave = load_audio(item.path)
    if item.duration is not None or item.start:
        start = int(round(item.start * 16000))
        end = start + int(round(item.duration * 16000)) if item.duration is not None else wave.numel()
        wave = wave[start:end]
        if wave.numel() == 0:
            raise AudioError(f"{item.path}: segment {item.start}+{item.duration} s is empty")
    return wave


def _item_length(item: SuperbItem) -> int:
    if item.duration is not None:
        return int(round(item.duration * 16000))
    return audio_length(item.path)


def _load_missing(entry: tuple[SuperbItem, str, str]) -> torch.Tensor:
    return load_item_audio(entry[0])


class FeatureSource:
    """Hidden states for items: from the on-disk cache (computed once), or per batch when the corpus is too big."""

    def __init__(self, upstream: Upstream, cache: EmbeddingCache | None, corpus: str, progress_factory=None):
        self.upstream = upstream
        self.cache = cache
        self.corpus = corpus
        self.memory: dict[str, torch.Tensor] = {}
        self.progress_factory = progress_factory

    def _cache_file(self, item: SuperbItem) -> tuple[str, str]:
        segment = f"@{item.start:g}+{item.duration:g}" if item.duration is not None else ""
        return item.key + segment, file_hash(item.path)

    def prepare(self, items: list[SuperbItem], extract: ExtractConfig | None = None) -> None:
        """Load every item's hidden states into memory (cache hits) and compute the misses
        (:mod:`spear_bench.bench.extract`: length-sorted batches within a frame budget, audio
        decoded by DataLoader workers)."""
        if self.cache is None:
            return
        missing = []
        for item in items:
            if item.key in self.memory:
                continue
            name, audio_hash = self._cache_file(item)
            arrays = self.cache.get(self.corpus, "all", name, audio_hash)
            if arrays is None:
                missing.append((item, name, audio_hash))
            else:
                self.memory[item.key] = torch.from_numpy(arrays["hidden_states"])
        if not missing:
            return
        progress = (
            self.progress_factory(f"{self.corpus}: hidden states", len(missing)) if self.progress_factory else None
        )
        extract = extract or ExtractConfig(dtype=self.upstream.dtype)
        lengths = [_item_length(item) for item, _, _ in missing]
        with timed("superb"):
            for batch, waves in load_batches(missing, lengths, _load_missing, extract):
                states = self.upstream.hidden_states(waves)
                for state, (item, name, audio_hash) in zip(states, batch):
                    half = state.to(torch.float16)
                    self.cache.put(self.corpus, "all", name, audio_hash, {"hidden_states": half.numpy()})
                    self.memory[item.key] = half
                if progress:
                    progress(len(batch))

    def batch(self, items: list[SuperbItem]) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Per layer (B, T_max, D) float32, and lengths (B,)."""
        if self.cache is not None:
            states = [self.memory[item.key].float() for item in items]
        else:
            states = self.upstream.hidden_states([load_item_audio(item) for item in items])
        lengths = torch.tensor([s.shape[1] for s in states])
        padded = torch.nn.utils.rnn.pad_sequence([s.transpose(0, 1) for s in states], batch_first=True)  # (B, T, L, D)
        return list(padded.permute(2, 0, 1, 3).unbind(0)), lengths


# --- heads and metrics ------------------------------------------------------------------------------


def s3prl_nn():
    """``s3prl.nn``, imported after the compatibility shims (s3prl's import chain needs them)."""
    apply_s3prl_compat()
    import s3prl.nn  # heavy optional dependency

    return s3prl.nn


def build_head(protocol: SuperbProtocol, data: SuperbData, input_size: int) -> torch.nn.Module:
    nn = s3prl_nn()
    FrameLevelLinear, MeanPoolingLinear, RNNEncoder = nn.FrameLevelLinear, nn.MeanPoolingLinear, nn.RNNEncoder

    if data.kind == "utterance":
        if protocol.head != "mean_pooling_linear":
            raise ConfigError(f"utterance tasks use head mean_pooling_linear, got {protocol.head!r}")
        return MeanPoolingLinear(input_size, sum(len(c) for c in data.classes), hidden_size=protocol.head_hidden)
    vocab = len(data.tokens)
    if protocol.head == "frame_linear":
        return FrameLevelLinear(input_size, vocab, hidden_size=protocol.head_hidden)
    if protocol.head == "blstm":
        n = protocol.head_layers
        return RNNEncoder(
            input_size,
            vocab,
            module="LSTM",
            proj_size=protocol.head_hidden,
            hidden_size=[protocol.head_hidden] * n,
            dropout=[protocol.head_dropout] * n,
            layer_norm=[False] * n,
            proj=[False] * n,
            sample_rate=[1] * n,
            sample_style="concat",
            bidirectional=True,
        )
    raise ConfigError(f"unknown SUPERB head {protocol.head!r} (mean_pooling_linear, frame_linear, blstm)")


def _targets(data: SuperbData, items: list[SuperbItem]):
    if data.kind == "utterance":
        return torch.tensor(
            [
                [c.index(item.target[h]) if item.target[h] in c else -100 for h, c in enumerate(data.classes)]
                for item in items
            ]
        )
    index = {t: i for i, t in enumerate(data.tokens)}
    return [torch.tensor([index[t] for t in item.target]) for item in items]


def _loss(data: SuperbData, head, features, lengths, targets) -> torch.Tensor:
    if data.kind == "utterance":
        logits = head(features, lengths)
        losses, offset = [], 0
        for h, classes in enumerate(data.classes):
            losses.append(F.cross_entropy(logits[:, offset : offset + len(classes)], targets[:, h], ignore_index=-100))
            offset += len(classes)
        return sum(losses)
    logits, out_lengths = head(features, lengths)
    log_probs = logits.log_softmax(-1).transpose(0, 1)  # (T, B, V)
    flat = torch.cat(targets)
    target_lengths = torch.tensor([len(t) for t in targets])
    return F.ctc_loss(log_probs, flat, out_lengths, target_lengths, blank=0, zero_infinity=True)


def _greedy_ctc(logits: torch.Tensor, lengths: torch.Tensor, tokens: list[str]) -> list[list[str]]:
    best = logits.argmax(-1)
    out = []
    for row, n in zip(best, lengths):
        previous, seq = -1, []
        for t in row[: int(n)].tolist():
            if t != previous and t != 0:
                seq.append(tokens[t])
            previous = t
        out.append(seq)
    return out


def evaluate(
    data: SuperbData, featurizer, head, source: FeatureSource, items: list[SuperbItem], batch_size: int
) -> dict[str, float]:
    """Scores in percent: acc (utterance), wer+cer (characters) or per (phones)."""
    featurizer.eval()
    head.eval()
    correct, total = 0, 0
    hyps, refs = [], []
    with torch.no_grad():
        for lo in range(0, len(items), batch_size):
            batch = items[lo : lo + batch_size]
            all_hs, lengths = source.batch(batch)
            features, lengths = featurizer(all_hs, [lengths] * len(all_hs))
            if data.kind == "utterance":
                logits = head(features, lengths)
                targets = _targets(data, batch)
                ok = torch.ones(len(batch), dtype=torch.bool)
                offset = 0
                for h, classes in enumerate(data.classes):
                    ok &= logits[:, offset : offset + len(classes)].argmax(-1) == targets[:, h]
                    offset += len(classes)
                correct += int(ok.sum())
                total += len(batch)
            else:
                logits, out_lengths = head(features, lengths)
                for seq, item in zip(_greedy_ctc(logits, out_lengths, data.tokens), batch):
                    if data.token_unit == "char":
                        hyps.append(" ".join("".join(seq).replace("|", " ").split()))
                        refs.append(" ".join("".join(item.target).replace("|", " ").split()))
                    else:
                        hyps.append(" ".join(seq))
                        refs.append(" ".join(item.target))
    featurizer.train()
    head.train()
    if data.kind == "utterance":
        return {"acc": 100.0 * correct / max(total, 1)}
    if data.token_unit == "char":
        return {"wer": 100.0 * jiwer.wer(refs, hyps), "cer": 100.0 * jiwer.cer(refs, hyps)}
    return {"per": 100.0 * jiwer.wer(refs, hyps)}


def _primary_better(metric: str, higher: bool, new: float, best: float | None) -> bool:
    return best is None or (new > best if higher else new < best)


def train_and_test(
    spec: SuperbTaskSpec,
    data: SuperbData,
    upstream: Upstream,
    source: FeatureSource,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> tuple[dict[str, float], dict]:
    Featurizer = s3prl_nn().Featurizer
    protocol = spec.protocol
    torch.manual_seed(seed)
    featurizer = Featurizer(upstream.load())
    head = build_head(protocol, data, featurizer.output_size)
    parameters = list(featurizer.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(parameters, lr=protocol.lr)
    train = data.splits["train"]
    primary = spec.metric if spec.metric in ("acc", "wer", "per", "cer") else None
    higher = spec.higher_is_better(spec.metric)
    order_gen = torch.Generator().manual_seed(seed)
    order: list[int] = []
    best, best_state, best_step, history = None, None, 0, []
    start = time.perf_counter()
    step = 0
    while step < protocol.total_steps:
        optimizer.zero_grad()
        for _ in range(protocol.gradient_accumulate):
            if len(order) < protocol.batch_size:
                order += torch.randperm(len(train), generator=order_gen).tolist()
            batch = [train[i] for i in order[: protocol.batch_size]]
            del order[: protocol.batch_size]
            all_hs, lengths = source.batch(batch)
            features, lengths = featurizer(all_hs, [lengths] * len(all_hs))
            loss = _loss(data, head, features, lengths, _targets(data, batch)) / protocol.gradient_accumulate
            loss.backward()
            last_loss = loss.item() * protocol.gradient_accumulate
        torch.nn.utils.clip_grad_norm_(parameters, protocol.gradient_clipping)
        optimizer.step()
        step += 1
        if progress:
            progress(1)
        if step % protocol.eval_step == 0 or step == protocol.total_steps:
            scores = evaluate(data, featurizer, head, source, data.splits["dev"], protocol.batch_size)
            value = scores[primary] if primary in scores else next(iter(scores.values()))
            history.append({"step": step, "loss": last_loss, **scores})
            if _primary_better(primary, higher, value, best):
                best, best_step = value, step
                best_state = (
                    {k: v.clone() for k, v in featurizer.state_dict().items()},
                    {k: v.clone() for k, v in head.state_dict().items()},
                )
    featurizer.load_state_dict(best_state[0])
    head.load_state_dict(best_state[1])
    test = evaluate(data, featurizer, head, source, data.splits["test"], protocol.batch_size)
    weights = torch.softmax(featurizer.weights.detach(), -1).tolist() if hasattr(featurizer, "weights") else [1.0]
    details = {
        "dev_best": best,
        "best_step": best_step,
        "steps": step,
        "history": history,
        "layer_weights": weights,
        "train_seconds": time.perf_counter() - start,
        "items": {k: len(v) for k, v in data.splits.items()},
    }
    return test, details


def estimated_cache_bytes(data_list: list[SuperbData], upstream: Upstream) -> float:
    up = upstream.load()
    seconds = 0.0
    for data in data_list:
        for items in data.splits.values():
            for item in items:
                seconds += item.duration if item.duration is not None else sf.info(str(item.path)).duration
    frames = seconds * 16000 / up.downsample_rates[0]
    return frames * up.num_layers * up.hidden_sizes[0] * 2  # float16


def run_superb_task(
    spec: SuperbTaskSpec,
    data_root: Path,
    upstream: Upstream,
    cache_root: Path | None,
    seed: int = 42,
    cache_budget_bytes: float = DEFAULT_CACHE_BUDGET_BYTES,
    progress_factory=None,
) -> TaskResult:
    if spec.runner is None:
        raise ConfigError(
            f"SUPERB task {spec.name} ({spec.short}) is defined but not run by spear-bench; run it with s3prl: "
            f"run_downstream.py -m train -u {upstream.model.s3prl_upstream} -d {spec.s3prl_downstream} "
            "(after spear_bench.upstreams.register())"
        )
    root = spec.check_data(data_root)
    data_list = read_dataset(spec.dataset, root)
    cache = None
    if cache_root is not None and estimated_cache_bytes(data_list, upstream) <= cache_budget_bytes:
        cache = EmbeddingCache(
            Path(cache_root),
            upstream.model.name,
            upstream.weights_hash,
            "all_hidden_states",
            settings=embedding_settings(upstream.model, upstream.load()),
        )
        cache.describe({"s3prl_upstream": upstream.model.s3prl_upstream, "ckpt": upstream.model.s3prl_ckpt})
    source = FeatureSource(upstream, cache, spec.layout.root, progress_factory)
    fold_scores, fold_details = {}, {}
    for data in data_list:
        for items in data.splits.values():
            source.prepare(items)
        progress = (
            progress_factory(f"{spec.name}{' ' + data.fold if data.fold else ''}: training", spec.protocol.total_steps)
            if progress_factory
            else None
        )
        scores, details = train_and_test(spec, data, upstream, source, seed, progress)
        fold_scores[data.fold or "test"] = scores
        fold_details[data.fold or "test"] = details
    metrics = [m.name for m in spec.metrics if all(m.name in s for s in fold_scores.values())]
    means = {m: float(np.mean([s[m] for s in fold_scores.values()])) for m in metrics}
    return TaskResult(
        task=spec.name,
        scores=means,
        fold_scores=fold_scores,
        details={
            "folds": fold_details,
            "features": "cached" if cache else "per batch",
            "protocol": spec.protocol.__dict__,
        },
        embed=EmbedStats(hits=cache.hits if cache else 0, misses=cache.misses if cache else 0),
    )


class SuperbRunner:
    """SUPERB tasks behind the runner contract: the model as an s3prl upstream, hidden states cached under
    ``<cache>/superb`` (``<cache>/superb/<dtype>`` below float32) within the cache budget."""

    kind = "superb"

    def run(self, spec: SuperbTaskSpec, model: BenchModel, context: RunContext) -> TaskResult:
        upstream = context.models.get(
            ("superb", repr(model), context.device, context.dtype),
            lambda: Upstream(model, context.device, context.dtype),
        )
        cache_root = Path(context.cache_dir) / "superb" / ("" if context.dtype == "float32" else context.dtype)
        return run_superb_task(
            spec,
            context.data_root,
            upstream,
            cache_root,
            seed=context.seed,
            cache_budget_bytes=context.cache_budget_bytes,
            progress_factory=context.progress,
        )
