"""SPEAR checkpoints in the released Hugging Face layout.

A checkpoint is a folder with ``config.json`` (the reference hyper-parameter names; per-stack
values as ints, lists or comma-separated strings) and ``model.safetensors`` (or
``pytorch_model.bin``), or the weights file itself. Keys may carry ``model.`` prefixes
(the release has them); loading is strict and a mismatch raises a one-line
CheckpointError listing the first missing / unexpected keys and shape mismatches.
Nothing is unpickled beyond tensors: safetensors, or ``torch.load(weights_only=True)``.
The SPEAR builders (random init, or a checkpoint checked against the size) are here too: they need the loader.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from spear_bench.atomic_io import atomic_path, atomic_write_text
from spear_bench.errors import CheckpointError, ConfigError
from spear_bench.models.spear import SpearConfig, SpearEncoder, spear_config
from spear_bench.models.zipformer2 import PER_STACK_FIELDS, Zipformer2Config

CONFIG_NAME = "config.json"
WEIGHT_NAMES = ("model.safetensors", "pytorch_model.bin")
RELEASE_PREFIX = "model."
# Not used when output_downsampling_factor is 1; releases built that way may lack it.
OPTIONAL_KEYS = ("encoder.downsample_output.bias",)
_SHOW = 5  # keys listed per kind of mismatch


def find_checkpoint_files(path: Path) -> tuple[Path | None, Path]:
    """(config.json or None, weights file) for a checkpoint folder or weights file."""
    if not path.exists():
        raise CheckpointError(
            f"{path}: no such checkpoint (expected a folder with {CONFIG_NAME} + model.safetensors, or a weights file)"
        )
    if path.is_dir():
        weights = next((path / n for n in WEIGHT_NAMES if (path / n).is_file()), None)
        if weights is None:
            raise CheckpointError(f"{path}: no {' or '.join(WEIGHT_NAMES)} in the checkpoint folder")
        config = path / CONFIG_NAME
        return (config if config.is_file() else None), weights
    config = path.parent / CONFIG_NAME
    return (config if config.is_file() else None), path


def read_config(path: str | Path) -> SpearConfig:
    """A SpearConfig from a released config.json (``feature_dim`` is accepted for num_mel_bins)."""
    path = Path(path)
    try:
        values = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path}: unreadable config ({error})") from None
    if not isinstance(values, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    if "num_mel_bins" not in values and "feature_dim" in values:
        values["num_mel_bins"] = values["feature_dim"]
    causal = values.get("causal", False)
    if causal not in (False, "false", "False", 0, None):
        raise CheckpointError(f"{path}: causal={causal!r}: only the non-causal SPEAR encoder is supported")
    try:
        return SpearConfig.from_dict(values, source=str(path))
    except ConfigError as error:
        raise CheckpointError(str(error)) from None


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a .safetensors or torch file (weights_only), ``model.`` prefixes stripped."""
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as error:  # corrupt file, pickle with non-tensor objects, ...
        msg = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CheckpointError(f"{path}: unreadable weights ({msg[:200]})") from None
    # icefall checkpoints nest the weights under "model" (or "state_dict").
    for nest in ("model", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(nest), dict) and not torch.is_tensor(state.get(nest)):
            state = state[nest]
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise CheckpointError(f"{path}: expected a mapping of parameter names to tensors")
    return {_strip_prefix(k): v for k, v in state.items()}


def _strip_prefix(key: str) -> str:
    while key.startswith(RELEASE_PREFIX):
        key = key[len(RELEASE_PREFIX) :]
    return key


def infer_config(state: dict[str, torch.Tensor], source: str = "weights") -> SpearConfig:
    """Hyper-parameters read off the weight shapes (for a weights file without config.json).

    ``output_downsampling_factor`` cannot be seen in the weights and is taken as 1 (the
    released SPEAR models), ``encoder_unmasked_dim`` (training only) as half the dim and
    ``pos_head_dim`` as 4 (SPEAR's).
    """
    try:
        stacks: dict[int, dict] = {}
        for key, value in state.items():
            m = re.match(r"encoder\.encoders\.(\d+)\.(?:encoder\.)?layers\.(\d+)\.(.*)", key)
            if m:
                i, j, rest = int(m[1]), int(m[2]), m[3]
                s = stacks.setdefault(i, {"layers": set(), "ds": 1})
                s["layers"].add(j)
                if j == 0:
                    s[rest] = tuple(value.shape)
            m = re.match(r"encoder\.encoders\.(\d+)\.downsample\.bias", key)
            if m:
                stacks.setdefault(int(m[1]), {"layers": set(), "ds": 1})["ds"] = int(value.shape[0])
        n = len(stacks)
        if n == 0 or sorted(stacks) != list(range(n)):
            raise KeyError("encoder.encoders.*")
        cfg: dict = {k: [] for k in PER_STACK_FIELDS}
        cfg["downsampling_factor"] = []
        pos_dim = None
        for i in range(n):
            s = stacks[i]
            dim = s["norm.bias"][0]
            pos_out, pos_dim = s["self_attn_weights.linear_pos.weight"]
            pos_head_dim = 4
            heads = pos_out // pos_head_dim
            cfg["encoder_dim"].append(dim)
            cfg["num_encoder_layers"].append(len(s["layers"]))
            cfg["encoder_unmasked_dim"].append(dim // 2)
            cfg["num_heads"].append(heads)
            cfg["pos_head_dim"].append(pos_head_dim)
            cfg["query_head_dim"].append((s["self_attn_weights.in_proj.weight"][0] // heads - pos_head_dim) // 2)
            cfg["value_head_dim"].append(s["self_attn1.in_proj.weight"][0] // heads)
            cfg["feedforward_dim"].append(s["feed_forward2.in_proj.weight"][0])
            cfg["cnn_module_kernel"].append(s["conv_module1.depthwise_conv.weight"][2])
            cfg["downsampling_factor"].append(s["ds"])
        width = state["encoder_embed.out.weight"].shape[1] // state["encoder_embed.conv.7.weight"].shape[0]
        # ((F - 1) // 2 - 1) // 2 == width holds for F in [4w + 3, 4w + 6]; prefer SPEAR's 128.
        num_mel_bins = 128 if 4 * width + 3 <= 128 <= 4 * width + 6 else 4 * width + 4
        return SpearConfig(num_mel_bins=num_mel_bins, pos_dim=pos_dim, output_downsampling_factor=1, **cfg)
    except (KeyError, IndexError, ValueError, ZeroDivisionError, ConfigError) as error:
        raise CheckpointError(
            f"{source}: no config.json and the weights do not look like a SPEAR encoder ({error})"
        ) from None


def _mismatch_message(path: Path, config_source: str, state: dict, model: SpearEncoder) -> str | None:
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    optional = OPTIONAL_KEYS if model.config.output_downsampling_factor == 1 else ()
    missing = [k for k in expected if k not in state and k not in optional]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {expected[k]}"
        for k in expected
        if k in state and tuple(state[k].shape) != expected[k]
    ]
    if not (missing or unexpected or shapes):
        return None
    parts = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("shape mismatches", shapes)):
        if items:
            more = f", ... ({len(items) - _SHOW} more)" if len(items) > _SHOW else ""
            parts.append(f"{len(items)} {label}: " + ", ".join(items[:_SHOW]) + more)
    return f"{path} does not match {config_source}: " + "; ".join(parts)


def load_spear_checkpoint(path: str | Path, expected: SpearConfig | None = None) -> SpearEncoder:
    """A SpearEncoder (eval mode) with the weights of ``path``.

    The config comes from the checkpoint's config.json; without one, from ``expected``
    (e.g. ``build_spear_base(path)``) or else from the weight shapes. With both a
    config.json and ``expected``, the architecture must agree.
    """
    path = Path(path)
    config_path, weights_path = find_checkpoint_files(path)
    state = read_state_dict(weights_path)
    if config_path is not None:
        config, source = read_config(config_path), str(config_path)
        if expected is not None:
            ours, theirs = Zipformer2Config.to_dict(expected), Zipformer2Config.to_dict(config)
            diff = [k for k in ours if ours[k] != theirs[k] and k != "output_downsampling_factor"]
            if diff:
                k = diff[0]
                raise CheckpointError(
                    f"{config_path}: {k}={theirs[k]} but {expected.name} expects {ours[k]} "
                    f"({len(diff)} settings differ: {', '.join(diff)})"
                )
            # Keep the caller's inference settings (chunking), the checkpoint's architecture.
            config = _with_inference_settings(config, expected)
    elif expected is not None:
        config, source = expected, f"the {expected.name} config"
    else:
        config, source = infer_config(state, str(weights_path)), "the config inferred from its weights"
    with torch.device("meta"):
        model = SpearEncoder(config)
    message = _mismatch_message(weights_path, source, state, model)
    if message:
        raise CheckpointError(message)
    full = {}
    for key, value in model.state_dict().items():
        if key in state:
            full[key] = state[key].to(torch.float32).contiguous()
        else:  # an OPTIONAL_KEYS entry: its initial value
            full[key] = torch.zeros(value.shape, dtype=torch.float32)
    model.load_state_dict(full, strict=True, assign=True)
    return model.eval()


def build_spear(config: SpearConfig, path: str | None = None, seed: int = 0) -> SpearEncoder:
    """Random init seeded with ``seed`` (path None) or the weights of a checkpoint."""
    if path is not None:
        return load_spear_checkpoint(path, expected=config).eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SpearEncoder(config)
    return model.eval()


def build_spear_base(path: str | None = None, seed: int = 0) -> SpearEncoder:
    return build_spear(spear_config("base"), path, seed)


def build_spear_large(path: str | None = None, seed: int = 0) -> SpearEncoder:
    return build_spear(spear_config("large"), path, seed)


def build_spear_xlarge(path: str | None = None, seed: int = 0) -> SpearEncoder:
    return build_spear(spear_config("xlarge"), path, seed)


def build_spear_tiny(path: str | None = None, seed: int = 0) -> SpearEncoder:
    return build_spear(spear_config("tiny"), path, seed)


def _with_inference_settings(config: SpearConfig, settings: SpearConfig) -> SpearConfig:
    import dataclasses

    keep = ("name", "long_audio_threshold_s", "chunk_s", "chunk_context_s", "chunk_batch_size")
    return dataclasses.replace(config, **{k: getattr(settings, k) for k in keep})


def config_to_json(config: SpearConfig) -> dict:
    """config.json content: the reference names (lists per stack) and ``model_type``."""
    values = Zipformer2Config.to_dict(config)
    return {"model_type": "spear", **values}


def save_spear_checkpoint(encoder: SpearEncoder, folder: str | Path) -> Path:
    """Write ``folder/config.json`` + ``folder/model.safetensors`` (keys under ``model.``, as released)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {RELEASE_PREFIX + k: v.detach().to("cpu").contiguous() for k, v in encoder.state_dict().items()}
    # Written next to its destination, then renamed: a killed save leaves no half file.
    with atomic_path(folder / WEIGHT_NAMES[0]) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt"})
    atomic_write_text(folder / CONFIG_NAME, json.dumps(config_to_json(encoder.config), indent=1) + "\n")
    return folder
