"""``spear-bench models``, ``fetch``, ``info`` and ``embed``: the catalogue, its downloads, what a model is,
and its embeddings of audio files.

MODEL is a model name (``spear_bench.models.model_ref.ModelRef``): a released name
(``spear_base_sa``, ``wavlm_large`` ...: its published weights, fetched once), NAME@WEIGHTS,
NAME[random-init] (random init seeded with --seed, only on request), or a SPEAR checkpoint
(folder with config.json + model.safetensors, or a weights file).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from spear_bench.atomic_io import atomic_path, atomic_write_with
from spear_bench.errors import AudioError, ConfigError
from spear_bench.interrupts import note_finished

if TYPE_CHECKING:
    from spear_bench.models.model_ref import ModelRef

LAYER_HELP = "last (encoder output), all (every hidden state, stacked: L x T x D) or N (hidden state N, 0-based)"


# ---------------------------------------------------------------------------------------
# info
# ---------------------------------------------------------------------------------------


def _spear_config_for(ref: ModelRef):
    """(SpearConfig, source) for a SPEAR name or checkpoint path; None for other models."""
    # loaded when the command runs: `spear-bench --help` stays fast (docs/architecture.md)
    from spear_bench.models.checkpoint import find_checkpoint_files, infer_config, read_config, read_state_dict
    from spear_bench.models.model_ref import ModelRef
    from spear_bench.models.registry import get_bundle

    if ref.checkpoint:
        config_path, weights = find_checkpoint_files(Path(ref.weights))
        config = read_config(config_path) if config_path else infer_config(read_state_dict(weights), str(weights))
        return config, ref.weights
    bundle = get_bundle(ref.name)
    if bundle.family != "spear":
        return None
    if ref.weights:
        return _spear_config_for(ModelRef.parse(ref.weights, checkpoint_paths=True))[0], ref.weights
    return bundle.config(), None


def _source(ref: ModelRef, seed: int) -> str:
    """What weights MODEL names, without fetching them."""
    # loaded when the command runs: `spear-bench --help` stays fast (docs/architecture.md)
    from spear_bench.models.catalogue import CATALOGUE

    if ref.random_init:
        return f"random init (seed {seed})"
    if ref.weights:
        return ref.weights
    entry = CATALOGUE.get(ref.name)
    return entry.where if entry else "architecture only (no published weights)"


def model_info(model: str, seed: int = 0) -> dict:
    """Facts about MODEL; SPEAR models are counted on the meta device (nothing is allocated)."""
    # loaded when the command runs: `spear-bench --help` stays fast (docs/architecture.md)
    import torch

    from spear_bench.models.model_ref import ModelRef
    from spear_bench.models.registry import get_bundle
    from spear_bench.models.spear import SpearEncoder

    ref = ModelRef.parse(model, checkpoint_paths=True)
    resolved = _spear_config_for(ref)
    if resolved is None:
        bundle = get_bundle(ref.name)
        encoder = bundle.build(None, seed)  # the architecture's facts; the weights are not needed to count them
        return {
            "name": ref.label,
            "family": bundle.family,
            "source": _source(ref, seed),
            "parameters": sum(p.numel() for p in encoder.parameters()),
            "hidden_size": encoder.hidden_size,
            "num_hidden_states": encoder.num_hidden_states,
            "frame_rate": encoder.frame_rate,
            "hidden_frame_rate": getattr(encoder, "hidden_frame_rate", encoder.frame_rate),
            "sample_rate": encoder.sample_rate,
        }
    config, source = resolved
    with torch.device("meta"):
        encoder = SpearEncoder(config)
    n = encoder.num_parameters()
    return {
        "name": Path(source).name if ref.checkpoint else ref.label,
        "family": "spear",
        "source": source if ref.checkpoint else _source(ref, seed),
        "parameters": n,
        "parameters_millions": round(n / 1e6, 1),
        "hidden_size": encoder.hidden_size,
        "encoder_dim": list(config.encoder_dim),
        "feedforward_dim": list(config.feedforward_dim),
        "num_encoder_layers": list(config.num_encoder_layers),
        "num_layers": config.num_layers,
        "downsampling_factor": list(config.downsampling_factor),
        "output_downsampling_factor": config.output_downsampling_factor,
        "cnn_module_kernel": list(config.cnn_module_kernel),
        "num_heads": list(config.num_heads),
        "num_hidden_states": encoder.num_hidden_states,
        "frame_rate": encoder.frame_rate,
        "hidden_frame_rate": encoder.hidden_frame_rate,
        "sample_rate": encoder.sample_rate,
    }


def info(
    model: str = typer.Argument(
        ..., help="A model name (spear_base_sa, base[random-init], NAME@WEIGHTS ...) or a checkpoint path"
    ),
    json_output: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    seed: int = typer.Option(0, help="Seed of the random init (named models)."),
) -> None:
    """Parameter count (encoder_embed + encoder), dims, layers, frame rates of MODEL."""
    facts = model_info(model, seed)
    if json_output:
        typer.echo(json.dumps(facts, indent=1))
        return
    width = max(len(k) for k in facts)
    for key, value in facts.items():
        if key == "parameters":
            value = f"{value:,}"
        elif isinstance(value, list):
            value = ",".join(str(v) for v in value)
        typer.echo(f"{key:<{width}}  {value}")


# ---------------------------------------------------------------------------------------
# embed
# ---------------------------------------------------------------------------------------


def parse_layer(layer: str, num_hidden_states: int) -> str | int:
    """'last' | 'all' | an index into the hidden states (negative counts from the end)."""
    if layer in ("last", "all"):
        return layer
    try:
        index = int(layer)
    except ValueError:
        raise ConfigError(f"--layer {layer!r}: expected {LAYER_HELP}") from None
    if not -num_hidden_states <= index < num_hidden_states:
        raise ConfigError(
            f"--layer {index}: this model has {num_hidden_states} hidden states (0..{num_hidden_states - 1})"
        )
    return index % num_hidden_states


def output_paths(inputs: list[str], out_dir: Path, suffix: str) -> list[tuple[Path, Path]]:
    """(audio file, embedding file) pairs: a folder's files keep their relative paths, files their names."""
    # loaded when the command runs: `spear-bench --help` stays fast (docs/architecture.md)
    from spear_bench.audio import find_audio_files

    pairs: list[tuple[Path, Path]] = []
    for item in map(Path, inputs):
        files = find_audio_files([item])
        if item.is_dir():
            if not files:
                raise AudioError(f"{item}: no audio files in folder")
            pairs.extend((f, out_dir / f.relative_to(item).with_suffix(suffix)) for f in files)
        else:
            pairs.extend((f, out_dir / (f.stem + suffix)) for f in files)
    seen: dict[Path, Path] = {}
    for src, dst in pairs:
        if dst in seen:
            raise ConfigError(
                f"{src} and {seen[dst]} would both be written to {dst}; embed them into different --out folders"
            )
        seen[dst] = src
    return pairs


def _embeddings(encoder, waves, layer: str | int, dtype: str = "float32", device: str = "cpu"):
    """[(array, frame_rate)] of a (B, S) batch of equal-length waveforms."""
    # loaded when the command runs: `spear-bench --help` stays fast (docs/architecture.md)
    import torch

    from spear_bench.bench.extract import precision

    waves = waves.to(device)
    lengths = torch.full((waves.shape[0],), waves.shape[1], device=device)
    with torch.inference_mode(), precision(dtype, device):
        if layer == "last":
            out = encoder(waves, lengths, output_hidden_states=False) if _is_spear(encoder) else encoder(waves, lengths)
            return [
                (out.last_hidden_state[i, : int(n)].float().cpu().numpy(), encoder.frame_rate)
                for i, n in enumerate(out.lengths)
            ]
        kwargs = {"layers": [layer]} if _is_spear(encoder) and layer != "all" else {}
        out = encoder(waves, lengths, **kwargs)
        rate = getattr(encoder, "hidden_frame_rate", encoder.frame_rate)
        arrays = []
        for i, n in enumerate(out.hidden_lengths):
            if layer == "all":
                arrays.append(torch.stack([h[i, : int(n)] for h in out.hidden_states]).float().cpu().numpy())
            else:
                state = out.hidden_states[0] if _is_spear(encoder) else out.hidden_states[layer]
                arrays.append(state[i, : int(n)].float().cpu().numpy())
        return [(a, rate) for a in arrays]


def _load_pair(pair: tuple[Path, Path]):
    """(waveform, None) or (None, the one-line error) for (audio file, embedding file): a
    DataLoader worker returns the error instead of raising it (it would re-raise with a traceback)."""
    # loaded when the command runs: `spear-bench --help` stays fast (docs/architecture.md)
    from spear_bench.audio import load_audio

    try:
        return load_audio(pair[0]), None
    except AudioError as error:
        return None, str(error)


def _is_spear(encoder) -> bool:
    # loaded when the command runs: `spear-bench --help` stays fast (docs/architecture.md)
    from spear_bench.models.spear import SpearEncoder

    return isinstance(encoder, SpearEncoder)


def _write(path: Path, array, fmt: str, metadata: dict) -> None:
    """Streamed into the file (an hour of embeddings is hundreds of MB: no in-memory copy of the encoded file)."""
    # loaded when the command runs: `spear-bench --help` stays fast (docs/architecture.md)
    import numpy as np
    import torch
    from safetensors.torch import save_file

    if fmt == "npy":
        atomic_write_with(path, lambda handle: np.save(handle, array))
    else:
        with atomic_path(path) as tmp:
            save_file(
                {"embedding": torch.from_numpy(np.ascontiguousarray(array))},
                str(tmp),
                metadata={k: str(v) for k, v in metadata.items()},
            )


def embed(
    model: str = typer.Argument(
        ..., help="A released name (spear_base_sa ...), NAME@WEIGHTS, NAME[random-init] or a checkpoint path"
    ),
    audio: list[str] = typer.Argument(..., help="Audio files and/or folders (searched recursively)."),
    out: Path = typer.Option(..., "--out", help="Output folder (one embedding file per input file)."),
    layer: str = typer.Option("last", "--layer", help=LAYER_HELP),
    fmt: str = typer.Option("npy", "--format", help="npy or safetensors (tensor 'embedding' + metadata)."),
    seed: int = typer.Option(0, help="Seed of the random init (NAME[random-init])."),
    overwrite: bool = typer.Option(
        False, help="Recompute files that already exist (default: skip them, so a killed run resumes)."
    ),
    skip_errors: bool = typer.Option(
        False, "--skip-errors", help="Report unreadable audio and go on instead of stopping."
    ),
    dtype: str = typer.Option(
        "float32", "--dtype", help="Inference precision: float32 | bfloat16 | float16 (autocast; for GPUs)."
    ),
    device: str = typer.Option("cpu", "--device", help="cpu | cuda | cuda:N."),
    batch_s: float = typer.Option(
        160.0, "--batch-s", help="Audio per batch in seconds (files of equal length are batched)."
    ),
    workers: int = typer.Option(2, "--workers", help="Processes decoding audio while the model runs (0: none)."),
) -> None:
    """Write MODEL's embeddings of AUDIO files to --out: (T, D) per file, or (L, T, D) with --layer all.

    Files are sorted by length and files of equal length embedded together, up to --batch-s
    seconds of audio per batch (no padding, so each file's embedding is the one it gets
    alone), while --workers processes decode the next batches.
    """
    # loaded when the command runs: `spear-bench --help` stays fast (docs/architecture.md)
    import torch
    from tqdm import tqdm

    from spear_bench.bench.extract import ExtractConfig, audio_length, load_batches
    from spear_bench.bench.preflight import check_device, check_folder
    from spear_bench.models import load_encoder
    from spear_bench.models.model_ref import ModelRef, random_init_warning

    if fmt not in ("npy", "safetensors"):
        raise ConfigError(f"--format {fmt!r}: expected npy or safetensors")
    extract = ExtractConfig(max_batch_s=batch_s, workers=workers, dtype=dtype)
    pairs = output_paths(audio, out, "." + fmt)
    check_device(device)
    check_folder(out, "--out")
    encoder = load_encoder(model, seed=seed).to(device)
    ref = ModelRef.parse(model, checkpoint_paths=True)
    if ref.random_init:
        typer.echo(random_init_warning(ref.label))
    chosen = parse_layer(layer, encoder.num_hidden_states)
    todo = [(src, dst) for src, dst in pairs if overwrite or not dst.exists()]
    skipped = len(pairs) - len(todo)
    written = 0
    note_finished(f"{skipped} of {len(pairs)} files' embeddings written in {out}")
    failures: list[str] = []

    def fail(message: str) -> None:
        if not skip_errors:
            raise AudioError(f"{message} (embeddings already written in {out} are kept)")
        failures.append(message)
        tqdm.write(f"skipped: {message}")

    sized, unreadable = [], []
    for src, dst in todo:
        try:
            sized.append(((src, dst), audio_length(src)))
        except AudioError as error:
            unreadable.append(str(error))  # reported after the readable files are written
    bar = tqdm(total=len(sized), desc=f"embed {model}", unit="file", disable=None)
    batches = load_batches([p for p, _ in sized], [n for _, n in sized], _load_pair, extract, equal_lengths=True)
    for pairs_batch, loaded in batches:
        groups: dict[int, list[int]] = {}
        for i, (wave, error) in enumerate(loaded):
            if error is not None:
                fail(error)
            else:
                groups.setdefault(wave.numel(), []).append(i)
        for group in groups.values():
            # One file: a view of its samples (stacking would copy them: 230 MB for an hour).
            waves = loaded[group[0]][0][None] if len(group) == 1 else torch.stack([loaded[i][0] for i in group])
            try:
                results = _embeddings(encoder, waves, chosen, extract.dtype, device)
            except AudioError as error:  # e.g. files too short for the model: all of this group are (equal lengths)
                for i in group:
                    fail(f"{pairs_batch[i][0]}: {error}")
                continue
            for i, (array, rate) in zip(group, results):
                src, dst = pairs_batch[i]
                _write(dst, array, fmt, {"model": ref.label, "layer": chosen, "frame_rate": rate, "source": str(src)})
                written += 1
                note_finished(f"{skipped + written} of {len(pairs)} files' embeddings written in {out}")
        bar.update(len(pairs_batch))
    bar.close()
    for message in unreadable:
        fail(message)
    done = len(todo) - len(failures)
    typer.echo(
        f"wrote {done} embedding file(s) to {out}"
        + (f", {skipped} already there" if skipped else "")
        + (f", {len(failures)} skipped (bad audio)" if failures else "")
    )


# ---------------------------------------------------------------------------------------
# models, fetch
# ---------------------------------------------------------------------------------------


def catalogue_rows() -> list[dict]:
    """One row per registered name: its published source, expected parameters, paper row and whether it is cached."""
    # loaded when the command runs: `spear-bench --help` stays fast (docs/architecture.md)
    from spear_bench.models.catalogue import CATALOGUE
    from spear_bench.models.registry import get_bundle, model_names
    from spear_bench.models.weights import cached_path

    rows = []
    for name in model_names():
        entry = CATALOGUE.get(name)
        if entry is None:
            rows.append(
                {
                    "name": name,
                    "family": get_bundle(name).family,
                    "source": "none (architecture: NAME@FOLDER or NAME[random-init])",
                    "revision": "",
                    "parameters": None,
                    "paper_row": "",
                    "cached": None,
                }
            )
            continue
        rows.append(
            {
                "name": name,
                "family": entry.family,
                "source": entry.where,
                "revision": entry.revision or "main",
                "parameters": entry.parameters,
                "parameter_tolerance": entry.parameter_tolerance,
                "paper_row": entry.paper_row,
                "cached": cached_path(entry) is not None,
            }
        )
    return rows


def models(json_output: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """The model catalogue: every registered name, where its published weights live, their size, cached or not."""
    rows = catalogue_rows()
    if json_output:
        typer.echo(json.dumps(rows, indent=1))
        return
    table = [["name", "source", "parameters", "cached", "paper row"]]
    for r in rows:
        approx = "~" if r.get("parameter_tolerance") else ""
        params = "" if r["parameters"] is None else f"{approx}{r['parameters']:,}"
        cached = "" if r["cached"] is None else ("yes" if r["cached"] else "no")
        table.append([r["name"], r["source"], params, cached, r["paper_row"]])
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        cells = (cell.rjust(w) if i == 2 else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths)))
        typer.echo("  ".join(cells).rstrip())


def fetch(names: list[str] = typer.Argument(..., help="Released model names (see spear-bench models).")) -> None:
    """Download (resumable, into the Hugging Face / torch hub cache) and verify the published weights of NAMEs."""
    # loaded when the command runs: `spear-bench --help` stays fast (docs/architecture.md)
    from spear_bench.models.model_ref import ModelRef
    from spear_bench.models.weights import fetch as fetch_weights
    from spear_bench.models.weights import weights_fingerprint

    for name in names:
        path = fetch_weights(ModelRef.parse(name).name)
        typer.echo(f"{name}: verified {path} ({weights_fingerprint(path)})")


def register(app: typer.Typer) -> None:
    app.command("models")(models)
    app.command("fetch")(fetch)
    app.command("info")(info)
    app.command("embed")(embed)
