"""A run's LoRA adapter -> one GGUF LoRA file for ``llama-cli -m BASE.gguf --lora FILE``, read back before it counts.

The PyPI converter ships no ``convert_lora_to_gguf``, so the file is written here with the ``gguf`` package's
writer in the layout llama.cpp's adapter loader reads: ``general.type`` adapter, ``adapter.type`` lora,
``adapter.lora.alpha``, and per adapted weight a ``<gguf name>.lora_a`` (rank x in) and ``.lora_b`` (out x rank)
pair. The names, and any row reordering the converter applies to a base weight (Llama's q/k rotary
permutation), come from the converter's own model class applied to B: a row transform of B is the same
transform of B @ A. The check reads the file back and compares every pair's product with the converter's
transform of the adapter's update, so a layout this does not understand is refused, not shipped.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from fttui.engine.trained.gguf_export import converter_class
from fttui.errors import ConfigError, TrainingError
from fttui.gguf_tools import ADAPTER_FILE

PREFIX = "base_model.model."
PAIR = {".lora_A.weight": "A", ".lora_B.weight": "B"}
ADAPTER_TOLERANCE = 1e-5  # float32 tensors: the read-back update differs only by rounding


def _pairs(tensors: dict) -> dict[str, dict[str, torch.Tensor]]:
    """``{"model.layers.0.self_attn.q_proj": {"A": ..., "B": ...}}``; anything that is not a LoRA pair is refused."""
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in tensors.items():
        suffix = next((end for end in PAIR if key.endswith(end)), None)
        if suffix is None:
            raise ConfigError(f"the adapter holds {key}, which llama.cpp's LoRA format has no place for "
                              "(a trained embedding, head or magnitude vector)",
                              "export --gguf q8_0 for the merged model instead")
        module = key[len(PREFIX):] if key.startswith(PREFIX) else key
        pairs.setdefault(module[:-len(suffix)], {})[PAIR[suffix]] = tensor.float()
    broken = [module for module, pair in pairs.items() if set(pair) != {"A", "B"}]
    if broken:
        raise TrainingError(f"the adapter's {broken[0]} has only one of lora_A/lora_B", "resume the run to save it again")
    return pairs


def _scale(config: dict, module: str, rank: int) -> float:
    """The factor peft multiplies B @ A by for this module (its alpha and rank patterns, rsLoRA)."""
    from peft.utils.other import get_pattern_key

    alpha = float(config.get("lora_alpha") or 8)
    patterns = config.get("alpha_pattern") or {}
    if patterns:
        alpha = float(patterns.get(get_pattern_key(patterns.keys(), module), alpha))
    return alpha / (math.sqrt(rank) if config.get("use_rslora") else rank)


def _converter_model(base_dir: Path, out_file: Path):
    """llama.cpp's model class for the base (names and per-architecture transforms), without reading weights."""
    import gguf

    model_class, _ = converter_class(base_dir)
    return model_class(base_dir, gguf.LlamaFileType.ALL_F32, out_file, dry_run=True)


def _converted(model, module: str, tensor: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    """What the converter makes of a weight-shaped tensor at ``module``: [(gguf name, tensor)]."""
    name = f"{module}.weight"
    bid = next((int(part) for part in name.split(".") if part.isdecimal()), None)
    out = list(model.modify_tensors(tensor, name, bid))
    if not out or any(not gguf_name.endswith(".weight") for gguf_name, _ in out):
        raise ConfigError(f"the GGUF converter keeps no weight for the adapter's {module} (e.g. an lm_head tied "
                          "to the embeddings)", "train without that target module, or export --gguf q8_0")
    return [(gguf_name, data.float().contiguous()) for gguf_name, data in out]


def write_gguf_adapter(adapter_dir: Path, base_dir: Path, folder: Path, model_name: str, say) -> dict:
    """Write ``folder/ADAPTER_FILE`` from a peft LoRA adapter of the model at ``base_dir``; what was written."""
    import gguf
    from safetensors.torch import load_file

    config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    pairs = _pairs(load_file(adapter_dir / "adapter_model.safetensors"))
    alpha = float(config.get("lora_alpha") or 8)
    target = folder / ADAPTER_FILE
    say(f"writing the LoRA adapter as GGUF ({len(pairs)} adapted weights, float32)")
    model = _converter_model(base_dir, target)
    writer = gguf.GGUFWriter(target, gguf.MODEL_ARCH_NAMES[model.model_arch])
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    writer.add_name(model_name)
    expected = {}
    with torch.inference_mode():
        for module, pair in pairs.items():
            rank = pair["A"].shape[0]
            # llama.cpp scales by alpha / rank; a module peft scales otherwise carries the difference in B
            b = pair["B"] * (_scale(config, module, rank) / (alpha / rank))
            for gguf_name, b_part in _converted(model, module, b):
                writer.add_tensor(f"{gguf_name}.lora_a", pair["A"].contiguous().numpy())
                writer.add_tensor(f"{gguf_name}.lora_b", b_part.numpy())
            update = _scale(config, module, rank) * pair["B"] @ pair["A"]
            expected.update(_converted(model, module, update))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file(progress=False)
        writer.close()
    say("reading the adapter file back: each pair's update against the adapter's")
    figures = verify_adapter(target, expected, alpha)
    return {"file": target.name, "bytes": target.stat().st_size, "architecture": writer.arch, "base": str(base_dir),
            "lora_alpha": alpha, "ranks": sorted({pair["A"].shape[0] for pair in pairs.values()}), **figures}


def verify_adapter(path: Path, expected: dict[str, torch.Tensor], alpha: float) -> dict:
    """The file's metadata and every ``alpha / rank * lora_b @ lora_a`` against the expected update, or TrainingError."""
    from gguf import GGUFReader

    reader = GGUFReader(path)

    def field(key):
        found = reader.fields.get(key)
        return found.contents() if found is not None else None

    problems = [f"{key} is {field(key)!r}, not {want!r}" for key, want in
                (("general.type", "adapter"), ("adapter.type", "lora")) if field(key) != want]
    if field("adapter.lora.alpha") is None or abs(field("adapter.lora.alpha") - alpha) > 1e-6 * max(alpha, 1):
        problems.append(f"adapter.lora.alpha is {field('adapter.lora.alpha')!r}, not {alpha:g}")
    tensors = {tensor.name: torch.from_numpy(tensor.data.copy()) for tensor in reader.tensors}
    if len(tensors) != 2 * len(expected):
        problems.append(f"it holds {len(tensors)} tensors, not {2 * len(expected)}")
    error = 0.0
    for name, want in expected.items():
        a, b = tensors.get(f"{name}.lora_a"), tensors.get(f"{name}.lora_b")
        if a is None or b is None or b.shape[1] != a.shape[0] or (b.shape[0], a.shape[1]) != tuple(want.shape):
            problems.append(f"{name}'s lora_a/lora_b are missing or shaped "
                            f"{None if a is None else tuple(a.shape)}/{None if b is None else tuple(b.shape)}")
            continue
        got = alpha / a.shape[0] * b.float() @ a.float()
        error = max(error, float((got - want).abs().max() / want.abs().max().clamp_min(1e-12)))
    if problems or not error <= ADAPTER_TOLERANCE:
        detail = "; ".join(problems) or f"relative update error {error:.3g} > {ADAPTER_TOLERANCE:g}"
        raise TrainingError(f"{path.name} does not hold the adapter as llama.cpp reads it: {detail}; "
                            "nothing was exported", "report this with the model's name; export --gguf q8_0 meanwhile")
    return {"tensors": len(tensors), "relative_update_error": error}
