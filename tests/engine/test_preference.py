"""DPO on TRL's DPOTrainer, fed fttui's pairs: masks on the replies only, bad pairs counted, and a tiny model
that learns a preference rule it can generalise to held-out pairs."""
from __future__ import annotations

import json
import random

import pytest

from fttui.config import validate_config
from fttui.engine.data.preference_rows import encode_pair, fit_pair, read_pair
from fttui.errors import ConfigError, DataError

GOOD = ["lovely", "great", "superb", "fine", "excellent", "good"]
BAD = ["awful", "poor", "terrible", "dull", "broken", "bad"]
TOPICS = ["the film", "the food", "the hotel", "the book", "the song", "the game", "the car", "the phone"]


def pair_rows(count: int, seed: int) -> list[dict]:
    """The chosen reply praises, the rejected one complains: a rule over words, not over rows."""
    rng = random.Random(seed)
    return [{"prompt": [{"role": "user", "content": f"how was {rng.choice(TOPICS)}?"}],
             "chosen": [{"role": "assistant", "content": f"it was {rng.choice(GOOD)}"}],
             "rejected": [{"role": "assistant", "content": f"it was {rng.choice(BAD)}"}]} for _ in range(count)]


def write(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def dpo_config(model, train, eval_, run_dir, method="lora", **training):
    return validate_config({
        "model": {"name": model, "task": "causal-lm"},
        "data": {"train": train, "eval": eval_, "max_bad_rows": 2},
        "method": {"name": method},
        "training": {"objective": "dpo", "max_steps": 30, "batch_size": 8, "learning_rate": 1e-2, "max_length": 48,
                     "logging_steps": 5, "eval_steps": 30, "save_steps": 30, "precision": "fp32", "seed": 3,
                     "sample_prompts": 1, "max_new_tokens": 4, "beta": 0.1, **training},
        "output": {"dir": str(run_dir)},
    })


def test_pairs_are_read_in_trl_and_llama_factory_shapes():
    trl_row = {"prompt": "hi", "chosen": "hello", "rejected": "go away"}
    assert read_pair(trl_row, "f line 1") == ("hi", "hello", "go away")
    factory = {"conversations": [{"from": "human", "value": "hi"}], "chosen": {"from": "gpt", "value": "hello"},
               "rejected": {"from": "gpt", "value": "no"}}
    assert read_pair(factory, "f line 2") == (factory["conversations"], [factory["chosen"]], [factory["rejected"]])
    user = {"role": "user", "content": "hi"}
    implicit = {"chosen": [user, {"role": "assistant", "content": "hello"}],
                "rejected": [user, {"role": "assistant", "content": "no"}]}
    assert read_pair(implicit, "f line 3")[0] == [user]
    for row, problem in (({"prompt": "hi", "chosen": "same", "rejected": "same"}, "the same reply"),
                         ({"prompt": "hi", "chosen": "yes"}, "'rejected' is missing"),
                         ({"prompt": " ", "chosen": "a", "rejected": "b"}, "the prompt is empty")):
        with pytest.raises(DataError, match=problem) as caught:
            read_pair(row, "pairs.jsonl line 7")
        assert "pairs.jsonl line 7" in caught.value.message


def test_the_replies_are_exactly_the_completion_tokens(tiny_llama):
    from fttui.engine.data.chat import Renderer, fit_tokenizer
    from fttui.engine.data.rendering import render_row
    from fttui.engine.data.formats import Layout
    from fttui.engine.models.loading import load_tokenizer, resolve_model

    config = dpo_config(tiny_llama, "x.jsonl", None, "run")
    tokenizer = load_tokenizer(resolve_model(tiny_llama), config)
    fit_tokenizer(tokenizer, "causal-lm", "preference")
    renderer = Renderer(tokenizer)

    def render(row, where):
        return render_row(row, Layout("prompt-completion"), renderer, where, None)

    row = pair_rows(1, seed=0)[0]
    prompt, chosen, rejected = encode_pair(row, "line 1", render, tokenizer)
    eos = tokenizer.eos_token
    bare = lambda ids: tokenizer.decode(ids).replace(" ", "")  # noqa: E731 (WordPiece decodes with spaces)
    assert bare(chosen) == (row["chosen"][0]["content"] + eos).replace(" ", "")
    assert bare(rejected) == (row["rejected"][0]["content"] + eos).replace(" ", "")
    assert row["prompt"][0]["content"] in tokenizer.decode(prompt) and eos not in tokenizer.decode(prompt)
    # Too long: the prompt loses its start (BOS kept), the replies stay whole.
    fitted = fit_pair([101] + list(range(1, 40)), [7] * 6, [8] * 4, max_length=20, keep_first=True)
    assert fitted[0][0] == 101 and len(fitted[0]) == 14 and fitted[0][-1] == 39 and fitted[1:] == ([7] * 6, [8] * 4)


@pytest.mark.slow
@pytest.mark.parametrize(("method", "learning_rate"), [("lora", 1e-2), ("full", 1e-3)])
def test_dpo_learns_the_preference_and_generalises(tmp_path, seeded_tiny_llama, method, learning_rate):
    """LoRA against its own weights with the adapter off; full fine-tuning against a frozen copy of the base."""
    from trl import DPOTrainer

    from fttui.engine.training.recipe import run
    from fttui.engine.sink import ListSink

    from fttui.runner.run_dir import create_run_dir

    rows = pair_rows(96, seed=1) + [{"prompt": "hi", "chosen": "same", "rejected": "same"}]  # skipped, counted
    held_out = write(tmp_path / "eval.jsonl", pair_rows(24, seed=2))
    config = dpo_config(seeded_tiny_llama, write(tmp_path / "pairs.jsonl", rows), held_out, tmp_path / "runs",
                        method=method, fit_check=True, learning_rate=learning_rate)
    run_dir, lock = create_run_dir(config)
    outcome = run(config, run_dir, ListSink())
    lock.release()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert outcome.status == "completed" and isinstance(outcome.trainer, DPOTrainer)
    assert summary["train_rows"] == 96 and summary["bad_rows"] == 1 and summary["packing"] is None
    # Held-out pairs: the tuned model ranks the praising reply above the complaint, well above chance.
    assert summary["eval_rewards/accuracies"] >= 0.9 and summary["eval_rewards/margins"] > 0
    # Reference-free: the tuned model itself finds the chosen replies likelier, more often than the base did.
    assert summary["eval_prefers_chosen"] >= 0.9 > summary["baseline_eval_prefers_chosen"]
    saved = {"lora": "adapter/adapter_config.json", "full": "model/model.safetensors"}[method]
    assert (run_dir / saved).is_file()
    if method == "full":  # every weight trained, against a reference that stayed the base
        import torch
        from transformers import AutoModelForCausalLM

        base, reference = AutoModelForCausalLM.from_pretrained(seeded_tiny_llama), outcome.trainer.ref_model
        assert summary["trainable_params"] == summary["total_params"]
        assert torch.equal(reference.lm_head.weight.cpu(), base.lm_head.weight)
        assert not torch.equal(outcome.model.lm_head.weight.detach().cpu(), base.lm_head.weight)
    assert summary["fit_check"]["changes"] == [] and summary["fit_check"]["measured_mb"] > 0  # pairs probe too
    # What was saved reloads to the same log-probs: scored from disk, the held-out pairs read as the run's last eval
    from fttui.engine.trained.evaluate import evaluate_run

    again = evaluate_run(run_dir, held_out, baseline=False, save=False)["tuned"]["metrics"]
    assert again["rewards/margins"] == pytest.approx(summary["eval_rewards/margins"], rel=1e-4, abs=1e-5)
    assert again["chosen_loss"] == pytest.approx(summary["eval_chosen_loss"], rel=1e-4)
    assert again["prefers_chosen"] == summary["eval_prefers_chosen"]


def unpaired_rows(count: int, seed: int) -> list[dict]:
    """KTO rows in LLaMA-Factory's shape: messages ending with the reply, and whether it is desirable."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        good = i % 2 == 0
        rows.append({"messages": [{"role": "user", "content": f"how was {rng.choice(TOPICS)}?"},
                                  {"role": "assistant", "content": f"it was {rng.choice(GOOD if good else BAD)}"}],
                     "label": good})
    return rows


def test_kto_rows_read_labels_and_refuse_what_is_not_a_label():
    from fttui.engine.data.preference_rows import read_unpaired

    prompt, completion, label = read_unpaired({"prompt": "hi", "completion": "hello", "label": "true"}, "f line 1")
    assert (prompt, completion, label) == ("hi", "hello", True)
    assert read_unpaired(unpaired_rows(2, 0)[1], "f line 2")[2] is False
    with pytest.raises(DataError, match="'label' is 'maybe'"):
        read_unpaired({"prompt": "hi", "completion": "hello", "label": "maybe"}, "f line 3")


def test_the_preview_shows_a_pair_with_its_rejected_reply(tmp_path, tiny_llama):
    from fttui.engine.data.preview import preview
    from fttui.tui.screens.dataset import render_preview

    rows = pair_rows(4, seed=0) + [{"prompt": "hi", "chosen": "same", "rejected": "same"}]
    config = validate_config({"model": {"name": tiny_llama, "task": "causal-lm"},
                              "data": {"train": write(tmp_path / "pairs.jsonl", rows), "eval": None},
                              "training": {"objective": "dpo"}})
    shown = preview(config)
    assert shown.data_format == "preference" and shown.bad_rows == 1 and shown.packed_sequences is None
    assert shown.examples[0]["label"] == "rejected: " + rows[0]["rejected"][0]["content"]
    trained = "".join(piece for piece, is_trained in shown.examples[0]["segments"] if is_trained)
    assert rows[0]["chosen"][0]["content"] in trained
    assert "rejected: it was" in render_preview(shown).plain


@pytest.mark.slow
@pytest.mark.parametrize(("method", "learning_rate", "steps"), [("lora", 1e-2, 60), ("full", 1e-3, 30)])
def test_kto_learns_which_replies_are_desirable(tmp_path, seeded_tiny_llama, method, learning_rate, steps):
    """On seed-0 weights 30 LoRA steps are too few (chosen rewards +0.05, rejected +0.03); 60 separate them on
    the seed 0-3 weights tried (chosen +0.04 to +0.15, rejected -0.06 to -0.23)."""
    from trl import KTOTrainer

    from fttui.engine.training.recipe import run
    from fttui.engine.sink import ListSink
    from fttui.runner.run_dir import create_run_dir

    config = dpo_config(seeded_tiny_llama, write(tmp_path / "kto.jsonl", unpaired_rows(96, seed=1)),
                        write(tmp_path / "eval.jsonl", unpaired_rows(24, seed=2)), tmp_path / "runs", objective="kto",
                        method=method, learning_rate=learning_rate, max_steps=steps, eval_steps=steps,
                        save_steps=steps)
    run_dir, lock = create_run_dir(config)  # a whole run folder (config.yaml too), as fttui eval reads it
    outcome = run(config, run_dir, ListSink())
    lock.release()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert outcome.status == "completed" and isinstance(outcome.trainer, KTOTrainer)
    assert summary["data_format"] == "unpaired" and summary["train_rows"] == 96
    # Held-out replies: desirable ones gain reward over the base model, undesirable ones lose it.
    assert summary["eval_rewards/chosen"] > 0 > summary["eval_rewards/rejected"]
    assert summary["eval_loss"] < summary["baseline_eval_loss"]
    # fttui eval on other labelled replies scores them as KTO does: the base against itself, the tuned run against it
    from fttui.engine.trained.evaluate import evaluate_run

    result = evaluate_run(run_dir, write(tmp_path / "held-out.jsonl", unpaired_rows(24, seed=5)), save=False)
    base, tuned = result["baseline"]["metrics"], result["tuned"]["metrics"]
    assert result["format"] == "unpaired" and result["rows"] == 24
    assert list(tuned) == ["rewards/chosen", "rewards/rejected", "rewards/margins", "kl", "loss"]
    assert base["rewards/margins"] == pytest.approx(0.0, abs=1e-6) and base["kl"] == pytest.approx(0.0, abs=1e-6)
    assert tuned["rewards/chosen"] > 0 > tuned["rewards/rejected"] and tuned["loss"] < base["loss"]


def test_a_preference_loss_gets_no_perplexity_and_the_headline_shows_preference():
    from fttui.events import model_metrics
    from fttui.runner.summary import RunSummary

    raw = {"eval_loss": 0.3, "eval_rewards/accuracies": 0.9, "eval_rewards/margins": 1.5, "eval_prefers_chosen": 0.8}
    assert "perplexity" not in model_metrics(raw, causal=True)
    assert "perplexity" in model_metrics({"eval_loss": 0.3}, causal=True)  # a token loss: SFT
    summary = RunSummary.from_dict({"task": "causal-lm", **raw, "baseline_eval_prefers_chosen": 0.4,
                                    "baseline_eval_loss": 0.693})
    shown = summary.headline()
    assert list(shown)[:3] == ["prefers_chosen", "rewards/accuracies", "rewards/margins"]
    assert "perplexity" not in shown and "0.4" in shown["prefers_chosen"].text()


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["dpo", "orpo"])
def test_an_interrupted_preference_run_resumes_where_an_uninterrupted_one_ends(tmp_path, tiny_llama, stop_after,
                                                                               objective):
    from fttui.engine.training.recipe import run
    from fttui.engine.sink import ListSink
    from fttui.events import StepLogged

    train = write(tmp_path / "pairs.jsonl", pair_rows(48, seed=4))
    settings = dict(max_steps=6, batch_size=4, logging_steps=1, save_steps=2, eval_steps=None, baseline_eval=False,
                    sample_prompts=0, objective=objective)
    straight_dir, split_dir = tmp_path / "straight", tmp_path / "split"
    straight_dir.mkdir(), split_dir.mkdir()
    straight = ListSink()
    run(dpo_config(tiny_llama, train, None, straight_dir, **settings), straight_dir, straight)
    first, stop = stop_after(2)
    assert run(dpo_config(tiny_llama, train, None, split_dir, **settings), split_dir, first, stop).status == "stopped"
    second = ListSink()
    resumed = run(dpo_config(tiny_llama, train, None, split_dir, **settings), split_dir, second, resume=True)
    assert resumed.status == "completed"
    expected = {e.step: e.loss for e in straight.events if isinstance(e, StepLogged)}
    got = {e.step: e.loss for e in first.events + second.events if isinstance(e, StepLogged)}
    assert got[6] == pytest.approx(expected[6], abs=1e-4) and got[6] != pytest.approx(got[1], abs=1e-3)


def test_a_precomputed_reference_keeps_no_copy_and_starts_at_the_starting_model(tmp_path, tiny_llama):
    """Full fine-tuning with training.precompute_reference: the rows are scored by the starting model before the
    first step, so no frozen copy is loaded, the planner counts none, and step 1's loss is DPO's log 2 exactly
    (policy and reference agree); with adapters there is no copy to save, and that is said."""
    from fttui.engine.training.recipe import run
    from fttui.engine.sink import ListSink
    from fttui.events import StepLogged

    (tmp_path / "run").mkdir()
    config = dpo_config(tiny_llama, write(tmp_path / "pairs.jsonl", pair_rows(32, seed=1)), None, tmp_path / "run",
                        method="full", learning_rate=1e-3, max_steps=2, logging_steps=1, sample_prompts=0,
                        baseline_eval=False, precompute_reference=True)
    sink = ListSink()
    outcome = run(config, tmp_path / "run", sink)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert outcome.status == "completed" and outcome.trainer.ref_model is None
    assert summary["memory_estimate_breakdown_mb"]["reference"] == 0
    first = next(event for event in sink.events if isinstance(event, StepLogged))
    assert first.loss == pytest.approx(0.6931, abs=1e-3)
    # Each step carries TRL's batch reward figures for the Train screen's plot; policy = reference: margin 0
    assert set(first.rewards) == {"rewards/margins", "rewards/accuracies"}
    assert first.rewards["rewards/margins"] == pytest.approx(0.0, abs=1e-4)
    with pytest.raises(ConfigError, match="no copy of the weights to save"):
        dpo_config(tiny_llama, "t.jsonl", None, tmp_path, precompute_reference=True)
    for objective in ("orpo", "sft"):  # no reference model: refused, not ignored
        with pytest.raises(ConfigError, match="applies to training.objective=dpo or kto"):
            dpo_config(tiny_llama, "t.jsonl", None, tmp_path, method="full", objective=objective,
                       precompute_reference=True)


def test_early_stopping_watches_a_preference_metric_the_objective_reports(tmp_path, tiny_llama):
    from types import SimpleNamespace

    from fttui.engine.training.trainer_setup import training_arguments

    config = dpo_config(tiny_llama, "t.jsonl", "e.jsonl", tmp_path, early_stopping_patience=2,
                        best_metric="prefers_chosen")
    args = training_arguments(config, tmp_path, SimpleNamespace(precision="fp32", device="cpu"), has_eval=True)
    assert (args.metric_for_best_model, args.greater_is_better) == ("eval_prefers_chosen", True)
    assert args.load_best_model_at_end
    for objective, metric in (("kto", "prefers_chosen"), ("sft", "rewards/margins"), ("kto", "rewards/accuracies")):
        with pytest.raises(ConfigError, match=f"does not report {metric}"):
            dpo_config(tiny_llama, "t.jsonl", "e.jsonl", tmp_path, objective=objective, best_metric=metric)
    dpo_config(tiny_llama, "t.jsonl", "e.jsonl", tmp_path, objective="kto", best_metric="rewards/margins")


def test_data_that_does_not_suit_the_objective_is_refused_with_what_to_set(tmp_path, tiny_llama):
    from fttui.engine.data.dataset import prepare_data
    from fttui.engine.models.loading import load_tokenizer, resolve_model

    pairs = write(tmp_path / "pairs.jsonl", pair_rows(4, seed=0))
    chat = write(tmp_path / "chat.jsonl", [{"messages": [{"role": "user", "content": "hi"},
                                                          {"role": "assistant", "content": "hello"}]}] * 4)
    for train, objective, problem, hint in ((pairs, "sft", "are preference data", "training.objective=dpo"),
                                            (chat, "dpo", "needs prompt, chosen and rejected", "training.objective=sft")):
        config = validate_config({"model": {"name": tiny_llama, "task": "causal-lm"},
                                  "data": {"train": train, "eval": None}, "training": {"objective": objective}})
        with pytest.raises(DataError, match=problem) as caught:
            prepare_data(config, "causal-lm", load_tokenizer(resolve_model(tiny_llama), config))
        assert hint in caught.value.hint


def test_the_objective_is_part_of_the_prepared_data_cache_key(tmp_path, tiny_llama):
    """Prepared as pairs for DPO, the same file under sft must be read again (and refused), not loaded."""
    from fttui.engine.data.dataset import prepare_data
    from fttui.engine.models.loading import load_tokenizer, resolve_model

    pairs = write(tmp_path / "pairs.jsonl", pair_rows(4, seed=0))
    made = {}
    for objective in ("dpo", "sft"):
        config = validate_config({"model": {"name": tiny_llama, "task": "causal-lm"},
                                  "data": {"train": pairs, "eval": None}, "training": {"objective": objective}})
        try:
            made[objective] = prepare_data(config, "causal-lm", load_tokenizer(resolve_model(tiny_llama), config))
        except DataError as error:
            made[objective] = error
    assert made["dpo"].layout.format == "preference"
    assert isinstance(made["sft"], DataError) and "training.objective=dpo" in made["sft"].hint
