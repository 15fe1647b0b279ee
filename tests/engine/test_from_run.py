"""model.name=RUN_DIR: a DPO run starts from an SFT run's tuned model (its adapter merged in, its tokenizer kept);
a run that has not finished is refused before anything loads."""
from __future__ import annotations

import json

import pytest
from test_preference import dpo_config, pair_rows, write
from test_sft_train import chat_rows, config_for

from fttui.engine.training.recipe import run
from fttui.engine.sink import ListSink
from fttui.errors import ConfigError
from fttui.events import Started
from fttui.runner.run_dir import create_run_dir


def _trained(config):
    run_dir, lock = create_run_dir(config)
    try:
        outcome = run(config, run_dir, ListSink())
    finally:
        lock.release()
    assert outcome.status == "completed"
    return run_dir


@pytest.mark.slow
def test_dpo_from_an_sft_run_starts_from_its_tuned_model(tmp_path, tiny_llama):
    from transformers import AutoTokenizer

    from fttui.engine.trained.evaluate import evaluate_run
    from fttui.engine.models.loading import resolve_model

    sft_dir = _trained(config_for(tiny_llama, chat_rows(tmp_path / "chat.jsonl", bad=False), tmp_path / "sft",
                                  eval_=None, max_steps=8, sample_prompts=0))
    held_out = write(tmp_path / "held-out.jsonl", pair_rows(16, seed=2))
    scored = evaluate_run(sft_dir, held_out, save=False)  # the SFT run's tuned model, and its bare base
    tuned, base = scored["tuned"]["metrics"]["chosen_loss"], scored["baseline"]["metrics"]["chosen_loss"]
    assert abs(tuned - base) > 0.05  # the adapter changed the model: the comparison below can tell them apart
    sft_files = _files(sft_dir)

    dpo_dir = _trained(dpo_config(str(sft_dir), write(tmp_path / "pairs.jsonl", pair_rows(32, seed=1)), held_out,
                                  tmp_path / "dpo", max_steps=2, eval_steps=2, sample_prompts=0))
    summary = json.loads((dpo_dir / "summary.json").read_text())
    # Before its first step the DPO run's model scores the held-out replies as the SFT run's tuned model does.
    assert summary["baseline_eval_chosen_loss"] == pytest.approx(tuned, abs=1e-3)
    assert summary["started_from"] == {"run": str(sft_dir.resolve()), "output": str((sft_dir / "adapter").resolve()),
                                       "method": "lora", "base_model": tiny_llama}
    assert (dpo_dir / "adapter" / "adapter_config.json").is_file()
    merged = resolve_model(str(sft_dir)).path  # merged once, into the cache, with the SFT run's chat template
    assert not merged.startswith(str(sft_dir.resolve())) and (tmp_path / merged / "model.safetensors").is_file()
    assert _files(sft_dir) == sft_files  # the source run was only read
    assert AutoTokenizer.from_pretrained(merged).chat_template == AutoTokenizer.from_pretrained(
        sft_dir / "adapter").chat_template is not None


def _files(folder) -> dict:
    """Every file of a run folder but its lock (whose text says who reads it) with its size and time."""
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")
            if p.is_file() and p.name != ".fttui.lock"}


def test_an_unfinished_or_training_run_is_refused_with_a_hint(tmp_path, tiny_llama):
    from fttui.engine.models.loading import resolve_model
    from fttui.runner.lock import claim

    config = config_for(tiny_llama, "chat.jsonl", tmp_path / "half-done")
    run_dir, lock = create_run_dir(config)  # a config.yaml, no adapter/ or model/ yet: the run is training
    with pytest.raises(ConfigError, match="still training") as caught:
        resolve_model(str(run_dir))
    assert "wait until it finishes" in caught.value.hint
    lock.release()
    started = Started(run_dir=str(run_dir), max_steps=6, epochs=1.0, trainable_params=1, total_params=2,
                      device="cpu", precision="fp32")
    (run_dir / "events.jsonl").write_text(started.to_json() + "\n")  # a worker began, then died
    reader = claim(run_dir, "eval")  # a reader's claim (an export, an eval) is no training
    with pytest.raises(ConfigError, match=r"has not finished \(interrupted\)") as caught:
        resolve_model(str(run_dir))
    reader.release()
    assert "fttui --resume" in caught.value.hint
