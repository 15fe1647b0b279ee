""""Try it": a finished run's base and fine-tuned models answer side by side, loaded once, greedy, on CPU."""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from fttui.config import validate_config
from fttui.engine.trained.inference import READY_TOPIC, TryModels, serve
from fttui.engine.training.recipe import run
from fttui.engine.sink import ListSink
from fttui.engine.trained.saved import describe_run, load_base_model
from fttui.events import Logged
from fttui.runner.run_dir import create_run_dir

SENTIMENT = Path(__file__).resolve().parents[2] / "presets" / "data" / "sentiment" / "train.jsonl"


def _train(run_dir, model, task, method, train, **training):
    config = validate_config({
        "model": {"name": model, "task": task}, "data": {"train": str(train), "eval": None},
        "method": {"name": method},
        "training": {"max_steps": 6, "batch_size": 8, "learning_rate": 3e-2, "precision": "fp32", "save_steps": 100,
                     **training},
        "output": {"dir": str(run_dir)},
    })
    create_run_dir(config)
    run(config, run_dir, ListSink())
    return run_dir


@pytest.fixture(scope="module")
def builtin_run(tmp_path_factory):
    """A real short LoRA run of the built-in MiniLM on the bundled sentiment data (first 64 rows)."""
    run_dir = tmp_path_factory.mktemp("try") / "builtin"
    config = validate_config({
        "model": {"name": "builtin", "task": "seq-cls"},
        "data": {"train": str(SENTIMENT), "eval": None, "max_train_rows": 64},
        "method": {"name": "lora"},
        "training": {"max_steps": 8, "batch_size": 8, "learning_rate": 1e-3, "precision": "fp32", "save_steps": 100},
        "output": {"dir": str(run_dir)},
    })
    create_run_dir(config)
    run(config, run_dir, ListSink())
    return run_dir


def _classify_alone(model, tokenizer, text):
    import torch

    with torch.no_grad():
        probabilities = model.eval()(**tokenizer(text, return_tensors="pt")).logits[0].softmax(-1)
    return int(probabilities.argmax()), float(probabilities.max())


def test_classification_answers_with_labels_and_the_base_is_the_untouched_model(builtin_run):
    from transformers import set_seed

    models = TryModels.load(builtin_run)
    assert models.task == "seq-cls" and models.base is None  # an adapter run keeps one copy of the base
    answer = models.answer("a wonderful, moving film")
    labels = describe_run(builtin_run).labels
    assert answer.error is None and {answer.base, answer.tuned} <= set(labels)
    assert 0.5 <= answer.base_probability <= 1 and 0.5 <= answer.tuned_probability <= 1
    again = models.answer("a wonderful, moving film")  # no sampling: the same answers every time
    assert (again.base, again.tuned, again.base_probability, again.tuned_probability) == \
        (answer.base, answer.tuned, answer.base_probability, answer.tuned_probability)

    # With the adapter switched off, the answer is the base model's, head seeded as in the baseline eval.
    set_seed(describe_run(builtin_run).config.training.seed)
    index, probability = _classify_alone(load_base_model(describe_run(builtin_run)), models.tokenizer,
                                         "a wonderful, moving film")
    assert labels[index] == answer.base and probability == pytest.approx(answer.base_probability, abs=1e-5)


def test_serve_answers_each_line_until_stdin_closes(builtin_run):
    sink = ListSink()
    requests = io.StringIO('{"prompt": "dull and broken"}\n\nplain text works too\n')
    serve(builtin_run, requests, sink)
    ready, *answers = sink.events
    assert isinstance(ready, Logged) and ready.topic == READY_TOPIC
    assert [a.prompt for a in answers] == ["dull and broken", "", "plain text works too"]
    assert answers[0].error is None and answers[0].tuned
    assert answers[1].error  # an empty line is answered with an error, and the session goes on
    assert answers[2].error is None


def test_causal_lm_generates_greedily_inside_the_learned_template(tmp_path, tiny_llama, alpaca_file):
    from transformers import set_seed

    from fttui.engine.training.samples import make_sampler

    run_dir = _train(tmp_path / "llama", tiny_llama, "causal-lm", "lora", alpaca_file)
    models = TryModels.load(run_dir)
    prompt = models.prompt_for("Say the colour number 1.")
    assert "Say the colour number 1." in prompt and prompt.rstrip().endswith("### Assistant:")
    answer = models.answer("Say the colour number 1.")
    assert answer.error is None and answer.task == "causal-lm"
    assert models.answer("Say the colour number 1.").tuned == answer.tuned  # greedy: the same every time
    set_seed(0)
    alone = make_sampler(models.tokenizer, [prompt], 48)(load_base_model(describe_run(run_dir)))[0]["output"]
    assert alone == answer.base


def test_a_full_fine_tune_compares_two_models(tmp_path, tiny_bert, sentiment_file):
    run_dir = _train(tmp_path / "full", tiny_bert, "seq-cls", "full", sentiment_file, learning_rate=1e-3, max_steps=4)
    models = TryModels.load(run_dir)
    assert models.base is not None
    answer = models.answer("the thing was great today")
    assert answer.error is None and answer.base in ("neg", "pos") and answer.tuned in ("neg", "pos")
