"""Greedy and beam decoding for the CTC and RNN-T heads."""

import itertools
import math

import pytest
import torch

import spear_bench  # noqa: F401
from spear_bench.errors import ConfigError
from spear_bench.finetune.decoding import (
    ctc_greedy,
    ctc_prefix_beam,
    decode,
    rnnt_beam,
    rnnt_greedy,
    rnnt_modified_beam,
)
from spear_bench.finetune.heads import CtcHead, TransducerHead

# Tensors here are tiny: extra threads only add synchronisation cost (large on a busy machine).
pytestmark = pytest.mark.usefixtures("one_thread")


class _FixedCtc:
    """A CTC 'head' whose log-probs are given directly (encoder_out is the log-prob tensor)."""

    kind = "ctc"
    blank_id = 0

    def log_probs(self, encoder_out):
        return encoder_out


def _collapse(path, blank=0):
    return tuple(t for t, _ in itertools.groupby(path) if t != blank)


def test_ctc_greedy_merges_repeats_and_drops_blanks():
    best = [1, 1, 0, 1, 2, 2, 0, 0, 3]
    log_probs = torch.full((1, len(best), 4), -10.0)
    log_probs[0, torch.arange(len(best)), torch.tensor(best)] = 0.0
    assert ctc_greedy(_FixedCtc(), log_probs, torch.tensor([len(best)])) == [[1, 1, 2, 3]]


def test_ctc_greedy_stops_at_each_utterance_length():
    log_probs = torch.full((2, 4, 3), -10.0)
    log_probs[:, :, 1] = 0.0
    log_probs[:, 2:, 2] = 1.0
    assert ctc_greedy(_FixedCtc(), log_probs, torch.tensor([4, 2])) == [[1, 2], [1]]


def test_ctc_prefix_beam_finds_the_label_sequence_greedy_misses():
    # Each frame: blank 0.6, "a" 0.4. Greedy says "" (p 0.36); "a" has p 0.64 over its three paths.
    log_probs = torch.log(torch.tensor([[[0.6, 0.4], [0.6, 0.4]]]))
    assert ctc_greedy(_FixedCtc(), log_probs, torch.tensor([2])) == [[]]
    assert ctc_prefix_beam(_FixedCtc(), log_probs, torch.tensor([2]), beam=4) == [[1]]


def test_ctc_prefix_beam_with_wide_beam_returns_the_most_probable_labelling():
    gen = torch.Generator().manual_seed(1)
    frames, vocab = 4, 3
    log_probs = torch.randn(1, frames, vocab, generator=gen).mul(1.5).log_softmax(-1)
    totals: dict = {}
    for path in itertools.product(range(vocab), repeat=frames):
        p = float(sum(log_probs[0, t, k] for t, k in enumerate(path)))
        key = _collapse(path)
        totals[key] = math.log(math.exp(totals[key]) + math.exp(p)) if key in totals else p
    best = max(totals, key=totals.get)
    assert ctc_prefix_beam(_FixedCtc(), log_probs, torch.tensor([frames]), beam=vocab**frames) == [list(best)]


def _rnnt_head(seed=0, vocab=6):
    torch.manual_seed(seed)
    return TransducerHead(8, vocab, 0, decoder_dim=8, joiner_dim=8, context_size=2, loss_kind="full").eval()


def test_rnnt_modified_beam_of_one_equals_greedy_with_one_symbol_per_frame():
    head = _rnnt_head()
    encoder_out, lengths = torch.randn(3, 7, 8), torch.tensor([7, 5, 3])
    greedy = rnnt_greedy(head, encoder_out, lengths, max_sym_per_frame=1)
    assert rnnt_modified_beam(head, encoder_out, lengths, beam=1) == greedy


def _sequence_log_probs_by_enumeration(head, encoder_out, max_sym):
    """log P(y) for every y: sum over all alignments with <= max_sym labels per frame (each frame ends with blank)."""
    encoder_proj = head.joiner.encoder_proj(encoder_out)
    frames, vocab = encoder_proj.shape[0], head.vocab_size
    labels = [v for v in range(vocab) if v != head.blank_id]
    per_frame = [()] + [c for n in range(1, max_sym + 1) for c in itertools.product(labels, repeat=n)]
    totals: dict = {}
    for choice in itertools.product(per_frame, repeat=frames):
        history, score = list(head.start_context()), 0.0
        for t, emitted in enumerate(choice):
            for token in (*emitted, head.blank_id):
                decoder_out = head.decoder_step(torch.tensor([history[-head.context_size :]]))
                log_probs = head.joiner(encoder_proj[t][None], decoder_out).log_softmax(-1)[0]
                score += float(log_probs[token])
                if token != head.blank_id:
                    history.append(token)
        key = tuple(history[head.context_size :])
        totals[key] = float(torch.logaddexp(torch.tensor(totals.get(key, -math.inf)), torch.tensor(score)))
    return totals


@torch.no_grad()
def test_rnnt_beam_with_a_wide_beam_returns_the_most_probable_sequence():
    head = _rnnt_head(seed=3, vocab=3)
    encoder_out = torch.randn(1, 3, 8) * 2
    totals = _sequence_log_probs_by_enumeration(head, encoder_out[0], max_sym=2)
    best = max(totals, key=totals.get)
    assert rnnt_beam(head, encoder_out, torch.tensor([3]), beam=1000, max_sym_per_frame=2) == [list(best)]


def test_rnnt_greedy_emits_several_symbols_per_frame_when_allowed():
    head = _rnnt_head(seed=2)
    with torch.no_grad():
        head.joiner.output.bias[head.blank_id] = -50.0  # blank never wins: only the symbol limit ends a frame
    encoder_out, lengths = torch.randn(1, 4, 8), torch.tensor([4])
    assert len(rnnt_greedy(head, encoder_out, lengths, max_sym_per_frame=3)[0]) == 12
    assert len(rnnt_greedy(head, encoder_out, lengths, max_sym_per_frame=1)[0]) == 4


def test_rnnt_greedy_batch_equals_one_utterance_at_a_time():
    head = _rnnt_head(1)
    encoder_out, lengths = torch.randn(3, 9, 8) * 3, torch.tensor([9, 6, 2])
    batched = rnnt_greedy(head, encoder_out, lengths)
    single = [rnnt_greedy(head, encoder_out[b : b + 1, : int(lengths[b])], lengths[b : b + 1])[0] for b in range(3)]
    assert batched == single


@pytest.mark.parametrize("loss_kind", ["full", "pruned"])
def test_rnnt_head_trained_on_fixed_features_decodes_its_targets(loss_kind):
    torch.manual_seed(0)
    targets = [[1, 2, 3], [4, 2], [5, 5, 1, 3]]
    encoder_out, lengths = torch.randn(3, 8, 16), torch.tensor([8, 8, 7])
    head = TransducerHead(16, 6, 0, decoder_dim=16, joiner_dim=32, context_size=2, loss_kind=loss_kind, prune_range=3)
    optimizer = torch.optim.Adam(head.parameters(), lr=0.02)
    for _ in range(150):
        optimizer.zero_grad()
        head.loss(encoder_out, lengths, targets).backward()
        optimizer.step()
    head.eval()
    assert rnnt_greedy(head, encoder_out, lengths) == targets
    assert rnnt_modified_beam(head, encoder_out, lengths, beam=4) == targets


def test_ctc_head_trained_on_fixed_features_decodes_its_targets():
    torch.manual_seed(0)
    targets = [[1, 2, 3], [4, 2], [5, 5, 1]]
    encoder_out, lengths = torch.randn(3, 10, 16), torch.tensor([10, 9, 10])
    head = CtcHead(16, 6, dropout=0.0)
    optimizer = torch.optim.Adam(head.parameters(), lr=0.05)
    for _ in range(200):
        optimizer.zero_grad()
        head.loss(encoder_out, lengths, targets).backward()
        optimizer.step()
    assert decode(head, encoder_out, lengths, "greedy") == targets
    assert decode(head, encoder_out, lengths, "beam", beam=4) == targets


def test_unknown_decoding_method_is_a_config_error():
    with pytest.raises(ConfigError, match="viterbi"):
        decode(CtcHead(4, 3), torch.zeros(1, 2, 4), torch.tensor([2]), "viterbi")
