"""``spear-bench models``, ``fetch``, ``info`` and ``embed``: the catalogue, its downloads, what a model is,
and its embeddings of audio files.

MODEL is a model name (``spear_bench.models.catalogue.ModelRef``): a released name
(``spear_base_sa``, ``wavlm_large`` ...: its published weights, fetched once), NAME@WEIGHTS,
NAME[random-init] (random init seeded with --seed, only on request), or a SPEAR checkpoint
(folder with config.json + model.safetensors, or a weights file).
"""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Optional

import typer

from spear_bench.errors import AudioError, ConfigError, SpearBenchError
from spear_bench.models.catalogue import ModelRef, random_init_warning

LAYER_HELP = "last (encoder output), all (every hidden state, stacked: L x T x D) or N (hidden state N, 0-based)"


# ---------------------------------------------------------------------------------------
# info
# ---------------------------------------------------------------------------------------


def _spear_config_for(model: str):
    """(SpearConfig, source) for a SPEAR name or checkpoint path; None for other models."""
    from spear_bench.models.registry import ALIASES, get_bundle, model_names

    name = _registered_part(model)
    if name is not None:
        ref = ModelRef.parse(model)
        if get_bundle(ref.name).family != "spear":
            return None
        if ref.weights:
            return _spear_config_for(ref.weights)[0], ref.weights
        from spear_bench.models.spear import spear_config

        return spear_config(get_bundle(ref.name).builder.rsplit("_", 1)[-1]), None
    path = Path(model)
    if not path.exists():
        known = ", ".join(sorted(ALIASES) + model_names())
        raise ConfigError(f"{model!r} is neither a known model ({known}) nor an existing checkpoint path")
    from spear_bench.models.checkpoint import _find_files, infer_config, read_config, read_state_dict

    config_path, weights = _find_files(path)
    config = read_config(config_path) if config_path else infer_config(read_state_dict(weights), str(weights))
    return config, str(path)


def _registered_part(model: str) -> str | None:
    """The registered name ``model`` starts with (before @ or [), or None (a checkpoint path)."""
    from spear_bench.models.registry import ALIASES, model_names

    head = model.partition("@")[0].partition("[")[0].strip()
    return head if head in ALIASES or head in model_names() else None


def _source(model: str, seed: int) -> str:
    """What weights MODEL names, without fetching them."""
    from spear_bench.models.catalogue import CATALOGUE

    ref = ModelRef.parse(model)
    if ref.random_init:
        return f"random init (seed {seed})"
    if ref.weights:
        return ref.weights
    entry = CATALOGUE.get(ref.name)
    return entry.where if entry else "architecture only (no published weights)"


def model_info(model: str, seed: int = 0) -> dict:
    """Facts about MODEL; SPEAR models are counted on the meta device (nothing is allocated)."""
    import torch

    resolved = _spear_config_for(model)
    if resolved is None:
        from spear_bench.models.registry import get_bundle

        ref = ModelRef.parse(model)
        bundle = get_bundle(ref.name)
        encoder = bundle.build(None, seed)  # the architecture's facts; the weights are not needed to count them
        return {
            "name": ref.label,
            "family": bundle.family,
            "source": _source(model, seed),
            "parameters": sum(p.numel() for p in encoder.parameters()),
            "hidden_size": encoder.hidden_size,
            "num_hidden_states": encoder.num_hidden_states,
            "frame_rate": encoder.frame_rate,
            "hidden_frame_rate": getattr(encoder, "hidden_frame_rate", encoder.frame_rate),
            "sample_rate": encoder.sample_rate,
        }
    from spear_bench.models.spear import SpearEncoder

    config, source = resolved
    with torch.device("meta"):
        encoder = SpearEncoder(config)
    n = encoder.num_parameters()
    registered = _registered_part(model) is not None
    return {
        "name": ModelRef.parse(model).label if registered else Path(source).name,
        "family": "spear",
        "source": _source(model, seed) if registered else source,
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
    model: str = typer.Argument(..., help="A model name (spear_base_sa, base[random-init], NAME@WEIGHTS ...) or a checkpoint path"),
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
        raise ConfigError(f"--layer {index}: this model has {num_hidden_states} hidden states (0..{num_hidden_states - 1})")
    return index % num_hidden_states


def output_paths(inputs: list[str], out_dir: Path, suffix: str) -> list[tuple[Path, Path]]:
    """(audio file, embedding file) pairs: a folder's files keep their relative paths, files their names."""
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
            raise ConfigError(f"{src} and {seen[dst]} would both be written to {dst}; embed them into different --out folders")
        seen[dst] = src
    return pairs


def _embedding(encoder, wave, layer: str | int):
    """(array, frame_rate) of one waveform."""
    import torch

    with torch.inference_mode():
        if layer == "last":
            out = encoder(wave.unsqueeze(0), torch.tensor([wave.numel()]), output_hidden_states=False) if _is_spear(encoder) else encoder(
                wave.unsqueeze(0), torch.tensor([wave.numel()])
            )
            n = int(out.lengths[0])
            return out.last_hidden_state[0, :n].float().numpy(), encoder.frame_rate
        kwargs = {"layers": [layer]} if _is_spear(encoder) and layer != "all" else {}
        out = encoder(wave.unsqueeze(0), torch.tensor([wave.numel()]), **kwargs)
        n = int(out.hidden_lengths[0])
        rate = getattr(encoder, "hidden_frame_rate", encoder.frame_rate)
        if layer == "all":
            return torch.stack([h[0, :n] for h in out.hidden_states]).float().numpy(), rate
        state = out.hidden_states[0] if _is_spear(encoder) else out.hidden_states[layer]
        return state[0, :n].float().numpy(), rate


def _embedding_of_file(encoder, wave, layer: str | int, src: Path):
    """``_embedding`` whose audio errors (e.g. a clip too short for the model) name the file."""
    try:
        return _embedding(encoder, wave, layer)
    except AudioError as error:
        raise AudioError(f"{src}: {error}") from None


def _is_spear(encoder) -> bool:
    from spear_bench.models.spear import SpearEncoder

    return isinstance(encoder, SpearEncoder)


def _write(path: Path, array, fmt: str, metadata: dict) -> None:
    import numpy as np

    from spear_bench.results.store import atomic_write_bytes

    if fmt == "npy":
        buffer = io.BytesIO()
        np.save(buffer, array)
        atomic_write_bytes(path, buffer.getvalue())
    else:
        import torch
        from safetensors.torch import save

        data = save({"embedding": torch.from_numpy(np.ascontiguousarray(array))}, metadata={k: str(v) for k, v in metadata.items()})
        atomic_write_bytes(path, data)


def embed(
    model: str = typer.Argument(..., help="A released name (spear_base_sa ...), NAME@WEIGHTS, NAME[random-init] or a checkpoint path"),
    audio: list[str] = typer.Argument(..., help="Audio files and/or folders (searched recursively)."),
    out: Path = typer.Option(..., "--out", help="Output folder (one embedding file per input file)."),
    layer: str = typer.Option("last", "--layer", help=LAYER_HELP),
    fmt: str = typer.Option("npy", "--format", help="npy or safetensors (tensor 'embedding' + metadata)."),
    seed: int = typer.Option(0, help="Seed of the random init (NAME[random-init])."),
    overwrite: bool = typer.Option(False, help="Recompute files that already exist (default: skip them, so a killed run resumes)."),
    skip_errors: bool = typer.Option(False, "--skip-errors", help="Report unreadable audio and go on instead of stopping."),
) -> None:
    """Write MODEL's embeddings of AUDIO files to --out: (T, D) per file, or (L, T, D) with --layer all."""
    from tqdm import tqdm

    from spear_bench.audio import load_audio
    from spear_bench.models import load_encoder

    if fmt not in ("npy", "safetensors"):
        raise ConfigError(f"--format {fmt!r}: expected npy or safetensors")
    pairs = output_paths(audio, out, "." + fmt)
    encoder = load_encoder(model, seed=seed)
    label = ModelRef.parse(model).label if _registered_part(model) else model
    if _registered_part(model) and ModelRef.parse(model).random_init:
        typer.echo(random_init_warning(label))
    chosen = parse_layer(layer, encoder.num_hidden_states)
    todo = [(src, dst) for src, dst in pairs if overwrite or not dst.exists()]
    skipped = len(pairs) - len(todo)
    failures: list[str] = []
    for src, dst in tqdm(todo, desc=f"embed {model}", unit="file", disable=None):
        try:
            wave = load_audio(src)
            array, rate = _embedding_of_file(encoder, wave, chosen, src)
        except AudioError as error:
            if not skip_errors:
                raise AudioError(f"{error} (embeddings already written in {out} are kept)") from None
            failures.append(str(error))
            tqdm.write(f"skipped: {error}")
            continue
        _write(dst, array, fmt, {"model": label, "layer": chosen, "frame_rate": rate, "source": str(src)})
    done = len(todo) - len(failures)
    typer.echo(f"wrote {done} embedding file(s) to {out}" + (f", {skipped} already there" if skipped else "") + (f", {len(failures)} skipped (bad audio)" if failures else ""))


# ---------------------------------------------------------------------------------------
# models, fetch
# ---------------------------------------------------------------------------------------


def catalogue_rows() -> list[dict]:
    """One row per registered name: its published source, expected parameters, paper row and whether it is cached."""
    from spear_bench.models.catalogue import CATALOGUE, cached_path
    from spear_bench.models.registry import get_bundle, model_names

    rows = []
    for name in model_names():
        entry = CATALOGUE.get(name)
        if entry is None:
            rows.append({"name": name, "family": get_bundle(name).family,
                         "source": "none (architecture: NAME@FOLDER or NAME[random-init])",
                         "revision": "", "parameters": None, "paper_row": "", "cached": None})
            continue
        rows.append({"name": name, "family": entry.family, "source": entry.where, "revision": entry.revision or "main",
                     "parameters": entry.parameters, "parameter_tolerance": entry.parameter_tolerance,
                     "paper_row": entry.paper_row, "cached": cached_path(entry) is not None})
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
    from spear_bench.models.catalogue import fetch as fetch_weights
    from spear_bench.models.catalogue import weights_fingerprint

    for name in names:
        path = fetch_weights(ModelRef.parse(name).name)
        typer.echo(f"{name}: verified {path} ({weights_fingerprint(path)})")


def register(app: typer.Typer) -> None:
    app.command("models")(models)
    app.command("fetch")(fetch)
    app.command("info")(info)
    app.command("embed")(embed)
