"""Bounded-memory encoding of long inputs: blockwise fbank and overlapping encoder chunks.

Fbank: frames are computed per frame (kaldi framing, ``snip_edges=False``), so a long
waveform is cut into blocks that overlap by a few frames and the interior frames of each
block are exactly the frames of the whole signal.

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

from spear_bench.models.base import EncoderOutput

if TYPE_CHECKING:  # pragma: no cover
    from spear_bench.models.spear import SpearEncoder

HOP = 160  # samples per fbank frame at 16 kHz
FBANK_BLOCK_FRAMES = 6000  # 60 s of fbank per block
_BLOCK_MARGIN = 2  # frames; frame f covers samples [160 f - 120, 160 f + 280)


def _fbank_blockwise(wave: Tensor, block_frames: int = FBANK_BLOCK_FRAMES) -> Tensor:
    """(S,) -> (T, bins): the fbank of the whole waveform computed block by block."""
    from spear_bench.audio import fbank_batch, num_fbank_frames

    total = num_fbank_frames(int(wave.shape[0]))
    out = None  # filled block by block: a list of blocks joined by torch.cat would hold the fbank twice
    for f0 in range(0, total, block_frames):
        f1 = min(total, f0 + block_frames)
        m = max(0, f0 - _BLOCK_MARGIN)
        s0 = HOP * m
        s1 = min(int(wave.shape[0]), HOP * (f1 + _BLOCK_MARGIN) + 280)
        seg = wave[s0:s1].unsqueeze(0)
        feats, _ = fbank_batch(seg, torch.tensor([seg.shape[1]]))
        if out is None:
            out = torch.empty(total, feats.shape[2], dtype=feats.dtype, device=feats.device)
        out[f0:f1] = feats[0, f0 - m : f1 - m]
    return out


def waveform_fbank(waveforms: Tensor, lengths: Tensor, block_frames: int = FBANK_BLOCK_FRAMES) -> tuple[Tensor, Tensor]:
    """Padded fbank batch (like spear_bench.audio.fbank_batch), blockwise for long waveforms."""
    from spear_bench.audio import fbank_batch, num_fbank_frames

    lengths = lengths.to("cpu", torch.long)
    longest = int(lengths.max())
    if num_fbank_frames(longest) <= block_frames:
        return fbank_batch(waveforms, lengths)
    from spear_bench.audio import FbankConfig

    pad_value = FbankConfig().padding_value
    feats = [_fbank_blockwise(waveforms[i, : int(n)], block_frames) for i, n in enumerate(lengths)]
    if len(feats) == 1:  # one long recording: no padded copy
        return feats[0].unsqueeze(0).to(waveforms.device), torch.tensor([feats[0].shape[0]], device=waveforms.device)
    out = torch.full((len(feats), max(f.shape[0] for f in feats), feats[0].shape[1]), pad_value, dtype=torch.float32)
    for i, f in enumerate(feats):
        out[i, : f.shape[0]] = f
    return out.to(waveforms.device), torch.tensor([f.shape[0] for f in feats], device=waveforms.device)


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
    from spear_bench.audio import FbankConfig

    return FbankConfig().padding_value
