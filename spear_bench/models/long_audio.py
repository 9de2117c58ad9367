"""Bounded-memory encoding of long inputs: overlapping encoder chunks (the blockwise fbank of a long
waveform is spear_bench.audio.fbank.waveform_fbank).

Encoder: attention is global, so chunking is an approximation. The 50 Hz timeline is cut
into centre segments of ``chunk_s`` seconds; each is encoded with ``chunk_context_s``
seconds of extra context on both sides (clipped at the ends) and only its centre frames
are kept. Chunk starts are multiples of max(downsampling_factor) x
output_downsampling_factor frames, so the downsampled stacks and the output downsampling
group exactly the frames they group in a full pass; what differs is only what
attention and the convolutions see beyond the context. docs/models.md reports the
measured difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import torch
from torch import Tensor

from spear_bench.audio.fbank import FbankConfig
from spear_bench.models.base import EncoderOutput

if TYPE_CHECKING:  # pragma: no cover
    from spear_bench.models.spear import SpearEncoder


@dataclass(frozen=True)
class Chunk:
    """One encoder chunk in 50 Hz frames: encode [start, end), keep [keep_start, keep_end)."""

    start: int
    end: int
    keep_start: int
    keep_end: int


def plan_chunks(num_frames_50hz: int, centre: int, context: int, align: int) -> list[Chunk]:
    """Cover [0, T) with centres of ``centre`` frames, each with ``context`` frames either side.

    ``centre`` is rounded down and ``context`` up to multiples of ``align`` so every chunk
    starts on a multiple of ``align``; a remainder shorter than ``align`` joins the last chunk.
    """
    t = num_frames_50hz
    centre = max(align, centre // align * align)
    context = -(-context // align) * align
    starts = list(range(0, t, centre))
    if len(starts) > 1 and t - starts[-1] < align:
        starts.pop()
    chunks = []
    for k, c0 in enumerate(starts):
        c1 = t if k == len(starts) - 1 else c0 + centre
        chunks.append(Chunk(start=max(0, c0 - context), end=min(t, c1 + context), keep_start=c0, keep_end=c1))
    return chunks


def chunked_forward_fbank(
    model: "SpearEncoder",
    fbank: Tensor,
    fbank_lens: Tensor,
    *,
    output_hidden_states: bool = True,
    layers: Sequence[int] | None = None,
) -> EncoderOutput:
    """EncoderOutput of ``model`` on a padded fbank batch, utterance by utterance, long ones in chunks."""
    cfg = model.config
    od = cfg.output_downsampling_factor
    align = max(cfg.downsampling_factor) * od
    centre = int(round(cfg.chunk_s * 50))
    context = int(round(cfg.chunk_context_s * 50))
    threshold = model.long_audio_threshold_frames
    fbank_lens = fbank_lens.to("cpu", torch.long)

    outs, hiddens, t50s = [], [], []
    for b in range(fbank.shape[0]):
        length = int(fbank_lens[b])
        feats = fbank[b : b + 1, :length]
        t50 = model.num_frames_50hz(length)
        if length <= threshold:
            result = model.run(feats, fbank_lens[b : b + 1], return_layer_outputs=output_hidden_states)
            outs.append(result.encoder.encoder_out[0])
            hiddens.append([h[0] for h in model.hidden_states_50hz(result, layers)] if output_hidden_states else [])
            t50s.append(t50)
            continue
        chunks = plan_chunks(t50, centre, context, align)
        out_buffer, filled, hidden_pieces = None, 0, []
        for g in range(0, len(chunks), cfg.chunk_batch_size):
            group = chunks[g : g + cfg.chunk_batch_size]
            slices = [feats[0, 2 * c.start : min(length, 2 * c.end + 7)] for c in group]
            lens = torch.tensor([s.shape[0] for s in slices])
            batch = torch.nn.utils.rnn.pad_sequence(slices, batch_first=True, padding_value=_padding_value())
            for i, c in enumerate(group):
                # Each row of the padded group on its own: the same padding, masks and
                # therefore outputs as the whole group, with a quarter of its activations
                # (a group of 30 s chunks held about 1 GB of attention and front-end tensors).
                result = model.run(
                    batch[i : i + 1], lens[i : i + 1].to(fbank.device), return_layer_outputs=output_hidden_states
                )
                states = model.hidden_states_50hz(result, layers) if output_hidden_states else ()
                lo, hi = c.keep_start - c.start, c.keep_end - c.start
                # Copies, so the chunk batch's tensors are freed before the next group; the
                # output goes straight into one buffer (pieces joined by torch.cat would hold it twice).
                piece = result.encoder.encoder_out[0, lo // od : -(-hi // od)]
                if out_buffer is None:
                    out_buffer = piece.new_empty((-(-t50 // od), piece.shape[-1]))
                out_buffer[filled : filled + piece.shape[0]] = piece
                filled += piece.shape[0]
                hidden_pieces.append([h[0, lo:hi].clone() for h in states])
                del result, states
        outs.append(out_buffer[:filled])
        hiddens.append([torch.cat([p[k] for p in hidden_pieces], dim=0) for k in range(len(hidden_pieces[0]))])
        t50s.append(t50)

    lengths = torch.tensor([o.shape[0] for o in outs], device=fbank.device)
    hidden_lengths = torch.tensor(t50s, device=fbank.device)
    # One utterance (a long recording): a view, not a padded copy of hours of frames.
    last = outs[0].unsqueeze(0) if len(outs) == 1 else torch.nn.utils.rnn.pad_sequence(outs, batch_first=True)
    hidden_states = tuple(
        torch.nn.utils.rnn.pad_sequence([h[k] for h in hiddens], batch_first=True) for k in range(len(hiddens[0]))
    )
    return EncoderOutput(
        last_hidden_state=last, hidden_states=hidden_states, lengths=lengths, hidden_lengths=hidden_lengths
    )


def _padding_value() -> float:
    return FbankConfig().padding_value
