"""The pure-PyTorch RNN-T loss: brute-force oracle, torchaudio (where it loads), pruning."""

import math

import pytest
import torch

import spear_bench  # noqa: F401  (torchaudio import hook)
from spear_bench.finetune.heads import TransducerHead, pad_targets
from spear_bench.finetune.transducer import (
    prune_ranges,
    rnnt_loss,
    rnnt_loss_brute_force,
    simple_lattice_log_probs,
    transducer_lattice_loss,
)

# Tensors here are tiny: extra threads only add synchronisation cost (large on a busy machine).
pytestmark = pytest.mark.usefixtures("one_thread")


def _case(seed, batch=3, frames=4, labels=3, vocab=5, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, frames, labels + 1, vocab, generator=gen, dtype=dtype) * 2
    targets = torch.randint(1, vocab, (batch, labels), generator=gen)
    logit_lengths = torch.tensor([frames] + [max(1, frames - 1 - i) for i in range(batch - 1)])
    target_lengths = torch.tensor([labels] + [max(0, labels - 1 - i) for i in range(batch - 1)])
    return logits, targets, logit_lengths, target_lengths


@pytest.mark.parametrize("seed,frames,labels", [(0, 4, 3), (1, 5, 2), (2, 3, 4), (3, 1, 2), (4, 6, 0)])
def test_rnnt_loss_equals_brute_force_enumeration_of_alignments(seed, frames, labels):
    logits, targets, logit_lengths, target_lengths = _case(seed, frames=frames, labels=labels)
    losses = rnnt_loss(logits, targets, logit_lengths, target_lengths, reduction="none")
    for b in range(logits.shape[0]):
        t, u = int(logit_lengths[b]), int(target_lengths[b])
        expected = rnnt_loss_brute_force(logits[b, :t, : u + 1], targets[b, :u].tolist())
        assert abs(float(losses[b]) - float(expected)) < 1e-4


def test_rnnt_loss_float32_within_1e4_of_brute_force():
    logits, targets, logit_lengths, target_lengths = _case(7, batch=2, frames=5, labels=3, dtype=torch.float32)
    losses = rnnt_loss(logits, targets, logit_lengths, target_lengths, reduction="none")
    for b in range(2):
        t, u = int(logit_lengths[b]), int(target_lengths[b])
        expected = rnnt_loss_brute_force(logits[b, :t, : u + 1], targets[b, :u].tolist())
        assert abs(float(losses[b]) - float(expected)) < 1e-4


def test_rnnt_loss_gradient_equals_brute_force_gradient():
    logits, targets, logit_lengths, target_lengths = _case(5, batch=1, frames=4, labels=2)
    a = logits.clone().requires_grad_()
    rnnt_loss(a, targets, logit_lengths, target_lengths, reduction="sum").backward()
    b = logits.clone().requires_grad_()
    rnnt_loss_brute_force(b[0], targets[0].tolist()).backward()
    assert torch.allclose(a.grad, b.grad, atol=1e-6)


def test_rnnt_loss_ignores_padding_beyond_lengths():
    logits, targets, logit_lengths, target_lengths = _case(9, batch=1, frames=4, labels=2)
    padded_logits = torch.cat([logits, torch.randn(1, 3, 3, 5, dtype=logits.dtype)], dim=1)  # 3 junk frames
    padded_logits = torch.cat([padded_logits, torch.randn(1, 7, 2, 5, dtype=logits.dtype)], dim=2)  # 2 junk labels
    padded_targets = torch.cat([targets, torch.tensor([[4, 4]])], dim=1)
    short = rnnt_loss(logits, targets, logit_lengths, target_lengths)
    padded = rnnt_loss(padded_logits, padded_targets, logit_lengths, target_lengths)
    assert torch.allclose(short, padded)


def _torchaudio_rnnt_or_reason():
    try:
        import torchaudio.functional as F

        probe = F.rnnt_loss(
            torch.zeros(1, 2, 2, 3),
            torch.tensor([[1]], dtype=torch.int32),
            torch.tensor([2], dtype=torch.int32),
            torch.tensor([1], dtype=torch.int32),
        )
        return F.rnnt_loss if torch.isfinite(probe) else None, None
    except Exception as error:  # noqa: BLE001 - any failure means "not available here"
        return None, f"{type(error).__name__}: {error}"


_TA_RNNT, _TA_REASON = _torchaudio_rnnt_or_reason()


@pytest.mark.skipif(
    _TA_RNNT is None,
    reason=f"torchaudio's compiled extension (rnnt_loss) does not load in this environment ({_TA_REASON}); "
    "the loss is checked against the brute-force oracle instead",
)
def test_rnnt_loss_equals_torchaudio_rnnt_loss():
    logits, targets, logit_lengths, target_lengths = _case(11, batch=3, frames=7, labels=4, dtype=torch.float32)
    ours = rnnt_loss(logits, targets, logit_lengths, target_lengths, reduction="none")
    theirs = _TA_RNNT(logits, targets.int(), logit_lengths.int(), target_lengths.int(), blank=0, reduction="none")
    assert torch.allclose(ours, theirs, atol=1e-4)


def test_simple_lattice_equals_full_loss_of_additive_joiner():
    gen = torch.Generator().manual_seed(3)
    am, lm = torch.randn(2, 6, 7, generator=gen), torch.randn(2, 4, 7, generator=gen)
    targets, target_lengths = torch.tensor([[1, 2, 3], [4, 5, 0]]), torch.tensor([3, 2])
    lengths = torch.tensor([6, 4])
    blank, emit = simple_lattice_log_probs(am, lm, targets)
    simple = transducer_lattice_loss(blank, emit, lengths, target_lengths)
    full = rnnt_loss(am[:, :, None] + lm[:, None], targets, lengths, target_lengths, reduction="none")
    assert torch.allclose(simple, full, atol=1e-4)


def _head(prune_range, seed=0):
    torch.manual_seed(seed)
    return TransducerHead(
        16,
        7,
        0,
        decoder_dim=12,
        joiner_dim=10,
        context_size=2,
        loss_kind="pruned",
        prune_range=prune_range,
        lm_only_scale=0.0,
    )


def test_pruned_loss_equals_full_loss_when_nothing_is_pruned():
    head = _head(prune_range=5)
    encoder_out, lengths = torch.randn(3, 9, 16), torch.tensor([9, 7, 5])
    padded, target_lengths = pad_targets([[1, 2, 3, 4], [5, 6], [3]])
    _, pruned = head.pruned_losses(encoder_out, lengths, padded, target_lengths)
    full = rnnt_loss(head.logits(encoder_out, padded), padded, lengths, target_lengths, reduction="none")
    assert torch.allclose(pruned, full, atol=1e-4)


def test_pruned_loss_is_an_upper_bound_and_tightens_with_the_range():
    encoder_out, lengths = torch.randn(2, 12, 16), torch.tensor([12, 10])
    padded, target_lengths = pad_targets([[1, 2, 3, 4, 5, 6], [2, 3, 4]])
    results = []
    for prune_range in (2, 3, 4, 8):
        head = _head(prune_range)
        _, pruned = head.pruned_losses(encoder_out, lengths, padded, target_lengths)
        results.append(pruned)
    full = rnnt_loss(_head(8).logits(encoder_out, padded), padded, lengths, target_lengths, reduction="none")
    for tighter, looser in zip(results[1:], results[:-1]):
        assert bool((tighter <= looser + 1e-4).all())
    assert bool((results[0] >= full - 1e-4).all()) and torch.allclose(results[-1], full, atol=1e-4)


def test_prune_ranges_admit_a_path():
    gen = torch.Generator().manual_seed(0)
    occupation = torch.rand(4, 20, 9, generator=gen)
    lengths, target_lengths = torch.tensor([20, 15, 8, 20]), torch.tensor([8, 5, 7, 0])
    s_range = 3
    starts = prune_ranges(occupation, lengths, target_lengths, s_range)
    for b in range(4):
        t_end, u_end = int(lengths[b]), int(target_lengths[b])
        s = starts[b, :t_end]
        assert int(s[0]) == 0
        assert bool((s[1:] >= s[:-1]).all()) and bool((s[1:] - s[:-1] <= s_range - 1).all())
        assert int(s[-1]) <= u_end <= int(s[-1]) + s_range - 1


def test_pruned_loss_gradients_are_finite():
    head = _head(prune_range=3)
    encoder_out = torch.randn(2, 10, 16, requires_grad=True)
    loss = head.loss(encoder_out, torch.tensor([10, 6]), [[1, 2, 3, 4, 5], [6, 1]], warmup_fraction=0.5)
    loss.backward()
    assert math.isfinite(float(loss.detach()))
    assert all(torch.isfinite(p.grad).all() for p in head.parameters() if p.grad is not None)
    assert torch.isfinite(encoder_out.grad).all()
