"""How events read as text: which numbers are metrics, and one line per sample generation."""
from __future__ import annotations

import pytest

from fttui.events import is_model_metric, sample_line


@pytest.mark.parametrize("key,value,shown", [
    ("eval_loss", 0.5, True), ("accuracy", 0.9, True), ("eval_f1_negative", 0.1, True),
    ("eval_runtime", 1.2, False), ("eval_samples_per_second", 30.0, False), ("model_preparation_time", 0.01, False),
    ("eval_model_preparation_time", 0.01, False), ("epoch", 2.0, False), ("eval_epoch", 2.0, False),
    ("runtime", 2.0, False), ("eval_loss", None, False), ("flag", True, False),
])
def test_only_numbers_about_the_model_are_metrics(key, value, shown):
    assert is_model_metric(key, value) is shown


def test_a_sample_is_one_line_with_the_prompt_cut_at_a_word():
    line = sample_line({"prompt": "### User:\nWrite a short poem about the sea and the wind and the "
                                  "gulls over the harbour\n\n### Assistant:\n",
                        "output": "The sea\nis grey"})
    assert "\n" not in line and "\\n" not in line
    assert line.endswith("### Assistant: → The sea ⏎ is grey")
    prompt = line.split(" → ")[0]
    assert prompt.startswith("…") and not prompt[1:].startswith(("arbour", "rbour"))  # a whole word
    assert len(prompt) <= 61


def test_a_long_output_is_cut_at_a_word_with_an_ellipsis():
    line = sample_line({"prompt": "hi", "output": "word " * 100})
    assert line.startswith("hi → word") and line.endswith("word…") and len(line) < 140


def test_the_headless_console_prints_sample_generations_and_no_bookkeeping():
    import io

    from rich.console import Console

    from fttui.events import Evaluated
    from fttui.runner.console import ConsoleRenderer

    out = io.StringIO()
    renderer = ConsoleRenderer(Console(file=out, width=200))
    renderer.handle(Evaluated(step=10, epoch=1.0, metrics={"loss": 1.5, "runtime": 2.0, "epoch": 1.0,
                                                           "model_preparation_time": 0.1},
                              details={"samples": [{"prompt": "### User:\nhello\n\n### Assistant:\n",
                                                    "output": "hi there"}]}))
    text = out.getvalue()
    assert "eval at step 10: loss 1.5000\n" in text and "runtime" not in text and "epoch" not in text
    assert "### User: ⏎ hello ⏎ ### Assistant: → hi there" in text


def test_the_plan_and_the_preview_say_how_many_rows_are_skipped():
    import io
    from dataclasses import replace

    from rich.console import Console

    from fttui.events import Planned
    from fttui.runner.console import ConsoleRenderer

    plan = Planned(task="causal-lm", method="lora", model="m", data_format="chat", train_rows=97, eval_rows=10,
                   truncated_rows=4, trainable_params=1, total_params=2, max_steps=10, epochs=1, device="cpu",
                   precision="fp32", dropped_rows=2, bad_rows=1)
    out = io.StringIO()
    ConsoleRenderer(Console(file=out, width=200)).handle(plan)
    assert "97 train, 10 eval (4 truncated, 2 dropped as too long, 1 unreadable and skipped)" in out.getvalue()
    out = io.StringIO()
    ConsoleRenderer(Console(file=out, width=200)).handle(replace(plan, dropped_rows=0, bad_rows=0))
    assert "(4 truncated)" in out.getvalue()



def test_the_headless_bar_ends_at_the_runs_last_step_not_its_last_logged_one():
    import io

    from rich.console import Console

    from fttui.events import Finished, Started, StepLogged
    from fttui.runner.console import ConsoleRenderer

    out = io.StringIO()
    renderer = ConsoleRenderer(Console(file=out, width=200))
    renderer.handle(Started(run_dir="runs/x", max_steps=6, epochs=1.0, trainable_params=1, total_params=2,
                            device="cpu", precision="fp32"))
    renderer.handle(StepLogged(step=5, max_steps=6, epoch=0.8, loss=0.5, eta_s=9.0))  # logging every 5 steps
    renderer.handle(Finished(status="completed", summary={"global_step": 6}, output_path="runs/x/adapter"))
    text = out.getvalue()
    assert "step 6/6" in text and "ETA 0:00:00" in text and "adapter: runs/x/adapter" in text
