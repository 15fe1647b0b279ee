"""One run, one number: the wizard, ``fttui recommend --json`` and the engine's calibration record agree.

For every method, on the quickstart (the built-in MiniLM) and on a tiny causal Llama, the Review step's
estimate (tui.services.estimate_config), the method's row of ``fttui recommend --preset ... --json`` and the
``memory_estimate_mb`` the engine writes into summary.json (engine.training.calibration.memory_record on the model
the engine built) are the same. Before planning read the config they were 387 / 481 / 478 MB for LoRA.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from fttui.cli import main
from fttui.config import load_config
from fttui.config.schema import METHODS
from fttui.engine.training.calibration import memory_record
from fttui.engine.training.device import choose_placement, cpu_supports_bf16
from fttui.engine.methods.build import apply_method
from fttui.engine.models.loading import infer_task, load_model, load_model_config, load_tokenizer, resolve_model
from fttui.errors import ConfigError
from fttui.hardware import detect
from fttui.planning import planning_name
from fttui.tui import services

# (config method, extra --set) for every method fttui trains; QLoRA twice, as the planner has a row per bit width
RUNS = [(m, []) for m in METHODS] + [("qlora", ["method.quant_bits=8"])]


@pytest.fixture(scope="module")
def report():
    """This machine's report, with the engine's own bf16 answer (torch's) so both plan the same precision."""
    found = detect()
    return replace(found, cpu=replace(found.cpu, bf16=cpu_supports_bf16()))


def _recommend(capsys, preset_args: list[str], batch_size: int) -> dict:
    """Its rows at the preset's batch size, without checkpointing (left alone, it searches for both)."""
    assert main(["recommend", *preset_args, "--batch-size", str(batch_size), "--no-gradient-checkpointing",
                 "--json"]) == 0
    return {row["method"]: row for row in json.loads(capsys.readouterr().out)["methods"]}


def _engine_mb(config, labels) -> float:
    """What the recipe records: the model it built for the run, its placement, the longest example."""
    placement = choose_placement(config.training.device, config.training.precision)
    source = resolve_model(config.model.name)
    task = infer_task(load_model_config(source, config), config.model.task)
    tokenizer = load_tokenizer(source, config)
    model = apply_method(load_model(source, config, task, labels, placement, tokenizer), config, task, source.path)
    record = memory_record(model, config, task, placement.device, placement.precision,
                           config.training.max_length, 0.0, None)
    assert "memory_estimate_mb" in record, record
    return record["memory_estimate_mb"]


def _agree(capsys, report, preset: str, sets: list[str], labels) -> dict:
    rows = _recommend(capsys, ["--preset", preset, *[arg for s in sets for arg in ("--set", s)]],
                      load_config(preset, sets).training.batch_size)
    seen = {}
    for method, extra in RUNS:
        config = load_config(preset, [*sets, f"method.name={method}", *extra])
        shape = services.load_shape(config.model.name)
        wizard_gb, _, _ = services.estimate_config(config, shape, report)
        row = rows[planning_name(method, config.method.quant_bits)]
        if not row["applicable"]:  # BitFit on a model without biases: the planner says n/a, the engine refuses
            with pytest.raises(ConfigError, match="bias"):
                _engine_mb(config, labels)
            continue
        engine_mb = _engine_mb(config, labels)
        assert row["estimated_gb"] == wizard_gb, (method, row["estimated_gb"], wizard_gb)
        assert round(wizard_gb * 1024, 1) == engine_mb, (method, wizard_gb * 1024, engine_mb)
        seen[row["method"]] = engine_mb
    return seen


def test_quickstart_estimates_agree_for_every_method(capsys, report):
    seen = _agree(capsys, report, "quickstart", [], ["negative", "positive"])
    assert len(seen) == len(RUNS) and 540 < seen["lora"] < 760  # 645.6 MB on a bf16 CPU


def test_causal_lm_estimates_agree_for_every_method(capsys, report, tiny_llama, chat_file, tmp_path):
    preset = tmp_path / "causal.yaml"
    preset.write_text(f"model: {{name: {tiny_llama}, task: auto}}\ndata: {{train: {chat_file}}}\n"
                      "method: {name: lora, lora_dropout: 0.1}\ntraining: {max_length: 64, batch_size: 4}\n")
    seen = _agree(capsys, report, str(preset), [], None)
    assert len(seen) == len(RUNS) - 1 and "bitfit" not in seen  # Llama has no biases


def test_the_method_step_ranks_as_recommend_does(capsys, report):
    """The wizard's Method step and ``fttui recommend`` search batch sizes the same way, to the same numbers."""
    config = load_config("quickstart")
    wizard = services.recommend(services.load_shape("builtin"), report, config.model_dump(mode="json"))
    assert main(["recommend", "--preset", "quickstart", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)["methods"]
    assert [(p.method, p.batch_size, p.estimated_gb) for p in wizard.methods] == \
        [(m["method"], m["batch_size"], m["estimated_gb"]) for m in cli]


def test_an_encoder_decoder_is_refused_before_anything_loads(tmp_path):
    """flan-t5: the engine refuses generation with the hint the wizard and ``recommend`` show (seq-cls trains)."""
    from transformers import AutoConfig

    shared = Path(__file__).parents[2].parent / "shared" / "data" / "model-configs" / "google--flan-t5-base.json"
    if not shared.is_file():
        pytest.skip("../shared/data/model-configs is not here")
    shutil.copy(shared, tmp_path / "config.json")
    with pytest.raises(ConfigError, match="encoder-decoder") as raised:
        infer_task(AutoConfig.from_pretrained(tmp_path), "auto")
    assert "model.task=seq-cls" in raised.value.hint
    assert infer_task(AutoConfig.from_pretrained(tmp_path), "seq-cls") == "seq-cls"
