"""Causal-LM training on TRL's SFTTrainer keeps fttui's run: counts, resume, bf16 on CPU, and a saved and
exported model that remembers its chat template and EOS."""
from __future__ import annotations

import json
import math

import pytest

from fttui.config import dump_config, validate_config
from fttui.engine.data.chat import FALLBACK_TEMPLATE, IGNORE_INDEX
from fttui.engine.training.recipe import run
from fttui.engine.sink import ListSink
from fttui.events import Logged, Planned, StepLogged


def chat_rows(path, count=24, long_every=0, bad=True):
    rows = []
    for i in range(count):
        question = "why " * (120 if long_every and i % long_every == 0 else 1) + f"number {i % 3}"
        rows.append({"messages": [{"role": "user", "content": question},
                                  {"role": "assistant", "content": ["one", "two", "three"][i % 3]}]})
    if bad:
        rows.append({"messages": [{"role": "user", "content": "no reply"}]})  # unreadable: skipped and counted
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def config_for(model, train, run_dir, eval_=0.25, **training):
    return validate_config({
        "model": {"name": model, "task": "causal-lm"},
        "data": {"train": train, "eval": eval_, "max_bad_rows": 1},
        "method": {"name": "lora"},
        "training": {"max_steps": 6, "batch_size": 4, "learning_rate": 3e-2, "logging_steps": 1, "max_length": 48,
                     "save_steps": 3, "precision": "fp32", "seed": 1, "sample_prompts": 1, "max_new_tokens": 4,
                     **training},
        "output": {"dir": str(run_dir)},
    })


def test_sft_run_counts_rows_and_saves_the_template_and_eos(tmp_path, tiny_llama):
    from transformers import AutoTokenizer
    from trl import SFTTrainer

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    sink = ListSink()
    held_out = chat_rows(tmp_path / "eval.jsonl", count=8, bad=False)
    config = config_for(tiny_llama, chat_rows(tmp_path / "chat.jsonl", long_every=6), run_dir, eval_=held_out)
    outcome = run(config, run_dir, sink)

    assert outcome.status == "completed" and isinstance(outcome.trainer, SFTTrainer)
    losses = [e.loss for e in sink.events if isinstance(e, StepLogged)]
    assert len(losses) == 6 and all(math.isfinite(loss) for loss in losses)
    plan = next(e for e in sink.events if isinstance(e, Planned))
    summary = json.loads((run_dir / "summary.json").read_text())
    # 25 rows: 4 with a 120-word question (truncated to 48 tokens), one without a reply (skipped).
    assert (plan.train_rows, plan.truncated_rows, plan.dropped_rows, plan.bad_rows) == (24, 4, 0, 1)
    assert (summary["train_rows"], summary["truncated_rows"], summary["dropped_rows"], summary["bad_rows"]) == (24, 4, 0, 1)
    assert 0.0 <= summary["eval_mean_token_accuracy"] <= 1.0 and "eval_num_tokens" not in summary  # TRL's metrics
    warnings = [e.message for e in sink.events if isinstance(e, Logged) and e.level == "warning"]
    assert any("no EOS token" in w and "[SEP]" in w for w in warnings)
    assert any("4 truncated to 48 tokens" in w and "1 unreadable" in w and "line 25" in w for w in warnings)
    for folder in (run_dir / "adapter", run_dir / "checkpoints" / "checkpoint-6"):
        saved = AutoTokenizer.from_pretrained(folder)
        assert saved.chat_template == FALLBACK_TEMPLATE and saved.eos_token == "[SEP]", folder


def test_the_collator_keeps_the_labels_as_they_were_prepared(tiny_llama):
    from transformers import AutoTokenizer

    from fttui.engine.training.trainer_setup import data_collator

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    rows = [{"input_ids": [5, 6, 7], "labels": [IGNORE_INDEX, 6, 7]}, {"input_ids": [8, 9], "labels": [8, IGNORE_INDEX]}]
    batch = data_collator("causal-lm", tokenizer)(rows)
    assert batch["labels"].tolist() == [[IGNORE_INDEX, 6, 7], [8, IGNORE_INDEX, IGNORE_INDEX]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]


def test_an_interrupted_sft_run_resumes_where_an_uninterrupted_one_ends(tmp_path, tiny_llama, stop_after):
    train = chat_rows(tmp_path / "chat.jsonl")
    straight_dir, split_dir = tmp_path / "straight", tmp_path / "split"
    straight_dir.mkdir(), split_dir.mkdir()
    straight = ListSink()
    run(config_for(tiny_llama, train, straight_dir, sample_prompts=0, baseline_eval=False), straight_dir, straight)
    first, stop = stop_after(2)
    outcome = run(config_for(tiny_llama, train, split_dir, sample_prompts=0, baseline_eval=False), split_dir, first, stop)
    assert outcome.status == "stopped"
    second = ListSink()
    resumed = run(config_for(tiny_llama, train, split_dir, sample_prompts=0, baseline_eval=False), split_dir, second,
                  resume=True)
    assert resumed.status == "completed"
    expected = {e.step: e.loss for e in straight.events if isinstance(e, StepLogged)}
    got = {e.step: e.loss for e in first.events + second.events if isinstance(e, StepLogged)}
    assert got[6] == pytest.approx(expected[6], abs=1e-4)


def test_native_bf16_on_cpu_trains_through_trl(tmp_path, tiny_llama):
    from fttui.engine.training.device import cpu_supports_bf16

    if not cpu_supports_bf16():
        pytest.skip("this CPU has no native bf16")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    sink = ListSink()
    outcome = run(config_for(tiny_llama, chat_rows(tmp_path / "chat.jsonl"), run_dir, precision="bf16",
                             sample_prompts=0, max_steps=3), run_dir, sink)
    assert outcome.summary["precision"] == "bf16" and outcome.trainer.args.bf16
    assert all(math.isfinite(e.loss) for e in sink.events if isinstance(e, StepLogged))


def test_a_merged_export_loads_with_its_template_and_stops_at_eos(tmp_path, tiny_llama):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from fttui.engine.trained.export import export_run

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = config_for(tiny_llama, chat_rows(tmp_path / "chat.jsonl"), run_dir, sample_prompts=0, max_steps=2,
                        baseline_eval=False)
    (run_dir / "config.yaml").write_text(dump_config(config))  # as the runner writes it
    run(config, run_dir, ListSink())
    export_run(run_dir, tmp_path / "merged", merge=True)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "merged")
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    assert tokenizer.chat_template == FALLBACK_TEMPLATE and tokenizer.eos_token == "[SEP]"
    assert model.generation_config.eos_token_id == tokenizer.eos_token_id == model.config.eos_token_id
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "why number 1"}], tokenize=False,
                                           add_generation_prompt=True)
    assert prompt.endswith("### Assistant:\n")
