"""ORPO on TRL's ORPOTrainer, fed fttui's pairs: no reference model, the SFT term on the chosen reply only, and a
tiny model that learns the preference rule of test_preference's pairs."""
from __future__ import annotations

import json

import pytest

from fttui.config import validate_config
from fttui.errors import ConfigError

from test_preference import dpo_config, pair_rows, write


def orpo_config(model, train, eval_, run_dir, **training):
    return dpo_config(model, train, eval_, run_dir, **{"objective": "orpo", **training})


def test_orpo_is_a_preference_objective_of_the_methods_with_a_known_reference():
    from fttui.config.methods import SPECS
    from fttui.config.schema import OBJECTIVES, PREFERENCE_OBJECTIVES

    assert "orpo" in OBJECTIVES and PREFERENCE_OBJECTIVES["orpo"] == "preference"
    able = {s.name for s in SPECS if "orpo" in s.objectives}
    assert able == {s.name for s in SPECS if "dpo" in s.objectives} and {"full", "lora", "dora", "qlora"} <= able
    base = {"model": {"name": "m", "task": "causal-lm"}, "data": {"train": "pairs.jsonl"}}
    assert validate_config({**base, "training": {"objective": "orpo", "beta": 0.2}}).training.beta == 0.2


@pytest.mark.parametrize("setting, problem", [
    ({"method": {"name": "prompt"}}, "works with method.name full, lora, dora, qlora, not prompt"),
    ({"training": {"preference_loss": "ipo"}}, "training.preference_loss applies to training.objective=dpo, not orpo"),
    ({"training": {"desirable_weight": 2.0}}, "training.desirable_weight applies to training.objective=kto"),
    ({"data": {"train": "chat.jsonl", "format": "chat"}}, "reads preference data"),
    ({"model": {"name": "m", "task": "seq-cls"}}, "tunes a causal LM"),
])
def test_settings_orpo_does_not_read_are_refused_with_what_to_do(setting, problem):
    config = {"model": {"name": "m", "task": "causal-lm"}, "data": {"train": "pairs.jsonl"}, "method": {"name": "lora"},
              "training": {"objective": "orpo"}}
    for section, values in setting.items():
        config[section] = {**config[section], **values}
    with pytest.raises(ConfigError, match=problem):
        validate_config(config)


def test_an_orpo_step_trains_the_reply_only_sft_loss_plus_the_odds_ratio(tmp_path, tiny_llama):
    """The first step of fttui's trainer: its SFT term is the chosen replies' token NLL, not the prompt's."""
    import torch

    from fttui.engine.training.orpo import as_orpo_row

    rows = pair_rows(16, seed=5)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = orpo_config(tiny_llama, write(tmp_path / "pairs.jsonl", rows), None, run_dir, max_steps=1,
                         baseline_eval=False, sample_prompts=0, batch_size=4)
    from fttui.engine.training.recipe import run
    from fttui.engine.sink import ListSink

    outcome = run(config, run_dir, ListSink())
    trainer = outcome.trainer
    assert type(trainer).__mro__[1].__name__ == "ORPOTrainer" and not hasattr(trainer, "ref_model")
    row = trainer.train_dataset[0]
    prompt = len(row["chosen_labels"]) - sum(label != -100 for label in row["chosen_labels"])
    assert prompt > 0 and row["chosen_input_ids"][:prompt] == row["rejected_input_ids"][:prompt]
    batch = trainer._prepare_inputs(trainer.data_collator([trainer.train_dataset[i] for i in range(4)]))
    with torch.no_grad():
        trainer.model.eval()
        chosen, rejected, _, _, nll = trainer.concatenated_forward(trainer.model, batch)
        logits = trainer.model(input_ids=batch["chosen_input_ids"],
                               attention_mask=batch["chosen_attention_mask"]).logits
    expected = torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), batch["chosen_labels"][:, 1:].flatten())
    assert nll == pytest.approx(float(expected), rel=1e-4)
    assert outcome.summary["global_step"] == 1 and outcome.status == "completed"
    assert as_orpo_row({"prompt_ids": [1, 2], "chosen_ids": [3], "rejected_ids": [4, 5]})["rejected_labels"] == \
        [-100, -100, 4, 5]


@pytest.mark.slow
@pytest.mark.parametrize(("method", "learning_rate"), [("lora", 1e-2), ("full", 1e-3)])
def test_orpo_learns_the_preference_and_generalises(tmp_path, seeded_tiny_llama, method, learning_rate):
    from fttui.engine.training.recipe import run
    from fttui.engine.sink import ListSink
    from fttui.events import Logged

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = orpo_config(seeded_tiny_llama, write(tmp_path / "pairs.jsonl", pair_rows(96, seed=1)),
                         write(tmp_path / "eval.jsonl", pair_rows(24, seed=2)), run_dir, fit_check=True,
                         method=method, learning_rate=learning_rate)
    sink = ListSink()
    outcome = run(config, run_dir, sink)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert outcome.status == "completed" and summary["data_format"] == "preference"
    # Held-out pairs: the tuned model finds the praising reply likelier than the complaint, the base did not.
    assert summary["eval_prefers_chosen"] >= 0.9 > summary["baseline_eval_prefers_chosen"]
    # ...and it learned the chosen replies themselves (the SFT term), with no reference model to compare with
    assert summary["eval_chosen_loss"] < summary["baseline_eval_chosen_loss"]
    assert summary["eval_chosen_loss"] == pytest.approx(summary["eval_nll_loss"], rel=0.05)
    assert (run_dir / {"lora": "adapter/adapter_config.json", "full": "model/model.safetensors"}[method]).is_file()
    notes = [e.message for e in sink.events if isinstance(e, Logged) and "trl.experimental" in e.message]
    assert len(notes) == 1


def test_orpo_reuses_the_pairs_prepared_for_dpo(tmp_path, tiny_llama):
    """The same pairs under dpo and orpo are one cache entry: switching the objective does not tokenize again."""
    from fttui.engine.data.dataset import prepare_data
    from fttui.engine.models.loading import load_tokenizer, resolve_model

    pairs = write(tmp_path / "pairs.jsonl", pair_rows(4, seed=0))
    notes = {}
    for objective in ("dpo", "orpo"):
        config = validate_config({"model": {"name": tiny_llama, "task": "causal-lm"},
                                  "data": {"train": pairs, "eval": None}, "training": {"objective": objective}})
        seen = []
        prepare_data(config, "causal-lm", load_tokenizer(resolve_model(tiny_llama), config), seen.append)
        notes[objective] = [event.message for event in seen]
    assert not any("from cache" in line for line in notes["dpo"])
    assert any("using the prepared data from cache" in line for line in notes["orpo"])
