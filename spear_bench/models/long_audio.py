"""Bounded-memory encoding of long inputs: overlapping encoder chunks, each with its own fbank.

Fbank: frames are computed per frame (kaldi framing, ``snip_edges=False``), so the frames
computed from a segment with a small margin are exactly those of the whole signal
(``spear_bench.audio.fbank.fbank_frames``; ``waveform_fbank`` builds a whole long fbank
block by block that way). The waveform entry
(``chunked_forward_waveform``) goes further: each encoder chunk's fbank is computed from
the chunk's own samples, so the fbank of a whole recording (184 MB per hour) never exists.

Memory: every output (last layer, hidden states) is written into one preallocated tensor,
so a long recording holds its outputs once, its waveform, and one chunk's activations.

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
from typing import Callable, Sequence

import torch
from torch import Tensor, nn

from spear_bench.audio.fbank import FbankConfig, fbank_frames, num_fbank_frames
from spear_bench.models.base import EncoderOutput


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


# A frame source gives the frames [p0, p1) of one utterance's (edge-padded) fbank.
FrameSource = Callable[[int, int], Tensor]


def _waveform_frames(wave: Tensor, edge_pad_frames: tuple[int, int]) -> tuple[int, FrameSource]:
    """Padded length and frame source of ``model.pad_fbank_edges(fbank(wave))``, computed on demand."""
    left, right = edge_pad_frames
    n = num_fbank_frames(int(wave.shape[0]))

    def frames(p0: int, p1: int) -> Tensor:
        lo = min(max(p0 - left, 0), n - 1)
        hi = max(min(p1 - left, n), lo + 1)
        own = fbank_frames(wave, lo, hi)
        # padded frame p is frame p - left of the waveform, clamped into [0, n): replicated edges
        source = (torch.arange(p0, p1, device=own.device) - left).clamp(0, n - 1) - lo
        return own[source]

    return n + left + right, frames


def chunked_forward_waveform(
    model: nn.Module,  # a SpearEncoder (models.spear, which calls these functions)
    waveforms: Tensor,
    lengths: Tensor,
    *,
    output_hidden_states: bool = True,
    layers: Sequence[int] | None = None,
) -> EncoderOutput:
    """``model.forward`` for a batch with long waveforms: each chunk's fbank is computed from its own samples.

    Equal to ``chunked_forward_fbank`` on the edge-padded fbank of the whole batch, without
    ever holding that fbank (184 MB per hour of audio).
    """
    lengths = lengths.to("cpu", torch.long)
    sources = [_waveform_frames(waveforms[b, : int(n)], model.config.edge_pad_frames) for b, n in enumerate(lengths)]
    return _encode(model, sources, waveforms.device, output_hidden_states, layers)


def chunked_forward_fbank(
    model: nn.Module,  # a SpearEncoder (models.spear, which calls these functions)
    fbank: Tensor,
    fbank_lens: Tensor,
    *,
    output_hidden_states: bool = True,
    layers: Sequence[int] | None = None,
) -> EncoderOutput:
    """EncoderOutput of ``model`` on a padded fbank batch, utterance by utterance, long ones in chunks."""
    fbank_lens = fbank_lens.to("cpu", torch.long)
    sources = [(int(n), lambda p0, p1, b=b: fbank[b, p0:p1]) for b, n in enumerate(fbank_lens)]
    return _encode(model, sources, fbank.device, output_hidden_states, layers)


def _encode(
    model: nn.Module,  # a SpearEncoder (models.spear, which calls these functions)
    sources: list[tuple[int, FrameSource]],
    device: torch.device,
    output_hidden_states: bool,
    layers: Sequence[int] | None,
) -> EncoderOutput:
    """Encode each utterance (length in padded fbank frames, frame source); long ones in chunks.

    Every output is written into one preallocated tensor per result (zero-padded like
    pad_sequence): no list of pieces joined by torch.cat, no padded copy, so hours of
    frames are held once.
    """
    cfg = model.config
    od = cfg.output_downsampling_factor
    align = max(cfg.downsampling_factor) * od
    centre = int(round(cfg.chunk_s * 50))
    context = int(round(cfg.chunk_context_s * 50))
    threshold = model.long_audio_threshold_frames
    pad_value = _padding_value()
    t50s = [model.num_frames_50hz(length) for length, _ in sources]
    out_lens = [-(-t50 // od) for t50 in t50s]
    batch = len(sources)
    new = torch.zeros if batch > 1 else torch.empty  # one utterance fills its buffers: no padding to zero
    out_buffer: Tensor | None = None
    hidden_buffers: list[Tensor] = []

    def store(b: int, result, frame_lo: int, frame_hi: int, at: int) -> None:
        """Write 50 Hz frames [frame_lo, frame_hi) of a run's result at 50 Hz frame ``at`` of utterance b."""
        nonlocal out_buffer, hidden_buffers
        out = result.encoder.encoder_out[0, frame_lo // od : -(-frame_hi // od)]
        states = model.hidden_states_50hz(result, layers) if output_hidden_states else ()
        if out_buffer is None:
            out_buffer = new((batch, max(out_lens), out.shape[-1]), dtype=out.dtype, device=out.device)
            hidden_buffers = [new((batch, max(t50s), h.shape[-1]), dtype=h.dtype, device=h.device) for h in states]
        out_buffer[b, at // od : at // od + out.shape[0]] = out
        for buffer, h in zip(hidden_buffers, states):
            buffer[b, at : at + frame_hi - frame_lo] = h[0, frame_lo:frame_hi]

    for b, (length, frames) in enumerate(sources):
        t50 = t50s[b]
        if length <= threshold:
            result = model.run(frames(0, length)[None], torch.tensor([length], device=device), output_hidden_states)
            store(b, result, 0, t50, 0)
            continue
        chunks = plan_chunks(t50, centre, context, align)
        for g in range(0, len(chunks), cfg.chunk_batch_size):
            group = chunks[g : g + cfg.chunk_batch_size]
            spans = [(2 * c.start, min(length, 2 * c.end + 7)) for c in group]
            width = max(p1 - p0 for p0, p1 in spans)
            for c, (p0, p1) in zip(group, spans):
                # Each chunk on its own, padded to its group's width: the same padding, masks
                # and therefore outputs as the whole group, with a quarter of its activations
                # (a group of 30 s chunks held about 1 GB of attention and front-end tensors).
                row = torch.full((1, width, cfg.num_mel_bins), pad_value, dtype=torch.float32, device=device)
                row[0, : p1 - p0] = frames(p0, p1)
                result = model.run(row, torch.tensor([p1 - p0], device=device), output_hidden_states)
                store(b, result, c.keep_start - c.start, c.keep_end - c.start, c.keep_start)
                del row, result

    return EncoderOutput(
        last_hidden_state=out_buffer,
        hidden_states=tuple(hidden_buffers),
        lengths=torch.tensor(out_lens, device=device),
        hidden_lengths=torch.tensor(t50s, device=device),
    )


def _padding_value() -> float:
    return FbankConfig().padding_value
