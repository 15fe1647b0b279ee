"""`fttui eval RUN_DIR --data pairs.jsonl`: preference accuracy and margin base -> tuned, the chosen replies' loss."""
from __future__ import annotations

import json

import pytest
from test_preference import dpo_config, pair_rows, write

from fttui.cli import main
from fttui.engine.training.recipe import run
from fttui.engine.sink import ListSink
from fttui.runner.run_dir import create_run_dir


def _dpo_run(folder, tiny_llama, steps: int, method: str = "lora", **training):
    train = write(folder / "pairs.jsonl", pair_rows(96, seed=1))
    config = dpo_config(tiny_llama, train, None, folder / "runs", method=method, max_steps=steps, sample_prompts=0,
                        baseline_eval=False, **training)
    run_dir, lock = create_run_dir(config)
    run(config, run_dir, ListSink())
    lock.release()
    return run_dir


def test_a_bad_pair_file_names_the_file_and_line(tmp_path, tiny_llama):
    """Read as training reads pairs, under the run's bad-row cap (2 here): past it, each bad row's file:line."""
    from fttui.engine.trained.evaluate import _preference_format, _prepared
    from fttui.engine.models.loading import load_tokenizer, resolve_model
    from fttui.engine.trained.saved import TrainedRun
    from fttui.errors import DataError

    config = dpo_config(tiny_llama, "train.jsonl", None, tmp_path / "runs")
    run = TrainedRun(config, "causal-lm", None, tmp_path / "adapter")
    rows = pair_rows(30, seed=4)
    rows[6].pop("rejected")
    rows[11]["rejected"] = rows[11]["chosen"]
    rows[20]["prompt"] = []
    path = write(tmp_path / "held-out.jsonl", rows)
    assert _preference_format(run, path) == "preference"
    with pytest.raises(DataError) as caught:
        _prepared(run, path, load_tokenizer(resolve_model(tiny_llama), config), "preference")
    message = caught.value.message
    assert "3 of 30 rows" in message and "data.max_bad_rows allows 2" in message
    assert "held-out.jsonl line 7: 'rejected' is missing" in message
    assert "held-out.jsonl line 12: 'chosen' and 'rejected' are the same reply" in message
    assert "held-out.jsonl line 21: the prompt is empty" in message


def test_labelled_replies_are_scored_as_kto_and_chat_rows_as_the_run_trained(tmp_path, tiny_llama):
    from test_preference import unpaired_rows

    from fttui.engine.trained.evaluate import _preference_format
    from fttui.engine.trained.saved import TrainedRun

    sft = dpo_config(tiny_llama, "train.jsonl", None, tmp_path / "runs", objective="sft")
    run = TrainedRun(sft, "causal-lm", None, tmp_path / "adapter")
    assert _preference_format(run, write(tmp_path / "kto.jsonl", unpaired_rows(4, seed=1))) == "unpaired"
    assert _preference_format(run, write(tmp_path / "pairs.jsonl", pair_rows(4, seed=1))) == "preference"
    chat = [{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}]
    assert _preference_format(run, write(tmp_path / "chat.jsonl", chat)) is None
    trl_rows = write(tmp_path / "trl.jsonl", [{"prompt": "hi", "completion": "hello", "label": False}])
    assert _preference_format(run, trl_rows) == "unpaired"
    chat_run = TrainedRun(sft.model_copy(update={"data": sft.data.model_copy(update={"format": "chat"})}),
                          "causal-lm", None, tmp_path / "adapter")
    assert _preference_format(chat_run, trl_rows) is None  # data.format says how the run reads rows


@pytest.mark.slow
def test_eval_on_pairs_shows_the_tuned_model_preferring_the_chosen_replies(tmp_path, tiny_llama, capsys):
    run_dir = _dpo_run(tmp_path, tiny_llama, steps=30)
    capsys.readouterr()  # the training's own log lines
    held_out = write(tmp_path / "held-out.jsonl", pair_rows(24, seed=2) + [{"prompt": "hi", "chosen": "yes"}])
    assert main(["eval", str(run_dir), "--data", held_out, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    base, tuned = result["baseline"]["metrics"], result["tuned"]["metrics"]
    assert result["format"] == "preference" and result["rows"] == 24 and result["bad_rows"] == 1
    assert list(tuned) == ["rewards/accuracies", "rewards/margins", "prefers_chosen", "chosen_loss", "loss"]
    # The base is its own reference: no margin; the tuned adapter, measured against the adapter switched off, has one.
    assert base["rewards/margins"] == pytest.approx(0.0, abs=1e-6) and base["rewards/accuracies"] == 0.0
    assert tuned["rewards/accuracies"] >= 0.9 and tuned["rewards/margins"] > 0
    assert tuned["prefers_chosen"] >= 0.9 > base["prefers_chosen"]
    assert 0 < tuned["chosen_loss"] < 1e3 and tuned["loss"] < base["loss"]  # base: log(2), the DPO loss at no margin
    assert base["loss"] == pytest.approx(0.6931, abs=1e-3)
    assert main(["eval", str(run_dir), "--data", held_out]) == 0
    captured = capsys.readouterr()
    table = captured.out
    assert "24 pairs" in table and "base model" in table and "rewards/accuracies" in table and "chosen_loss" in table
    assert "skipped 1 unreadable rows" in captured.err  # under the run's data.max_bad_rows (2), said, not silent


@pytest.mark.slow
def test_a_full_run_is_scored_against_the_base_model_beside_it(tmp_path, tiny_llama, capsys):
    """No adapter to switch off: the reference is the base model, loaded next to the tuned one; under bf16 autocast
    (precision auto on a CPU that has it) the scored model must run under it too, or the base's margins are noise."""
    run_dir = _dpo_run(tmp_path, tiny_llama, steps=10, method="full", learning_rate=1e-3, precision="auto")
    capsys.readouterr()
    assert main(["eval", str(run_dir), "--data", write(tmp_path / "held-out.jsonl", pair_rows(24, seed=2)),
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    base, tuned = result["baseline"]["metrics"], result["tuned"]["metrics"]
    assert base["rewards/margins"] == 0.0 and base["rewards/accuracies"] == 0.0  # its own reference, bit for bit
    assert tuned["rewards/margins"] > 0 and tuned["rewards/accuracies"] > 0.5 and tuned["loss"] < base["loss"]
