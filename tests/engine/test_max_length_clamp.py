"""training.max_length above the model's context is clamped with a warning, for classification and causal LM
alike: a 1024-token setting on a 128-position BERT used to fail mid-run, when a long row was batched."""
from __future__ import annotations

from fttui.config import validate_config
from fttui.engine.models.loading import model_context
from fttui.engine.training.recipe import run
from fttui.engine.sink import ListSink
from fttui.events import Logged, Planned

from conftest import write_jsonl


def _config(model, train, task, max_length, run_dir=None):
    return validate_config({
        "model": {"name": model, "task": task},
        "data": {"train": train, "eval": None},
        "training": {"max_steps": 1, "batch_size": 2, "max_length": max_length, "precision": "fp32",
                     "sample_prompts": 0},
        "output": {"dir": str(run_dir) if run_dir else None},
    })


def _warnings(sink):
    return [e.message for e in sink.events if isinstance(e, Logged) and e.level == "warning"]


def test_a_long_row_trains_on_a_short_context_model_with_the_length_clamped(tmp_path, tiny_bert):
    long_text = " ".join(["wonderful"] * 400)  # about 400 tokens: past the model's 128 positions
    train = write_jsonl(tmp_path / "t.jsonl", [{"text": long_text, "label": "pos"}, {"text": "bad", "label": "neg"}] * 2)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    sink = ListSink()
    outcome = run(_config(tiny_bert, train, "seq-cls", 1024, run_dir), run_dir, sink)
    assert outcome.status == "completed"
    assert "training.max_length 1024 is above the model's 128 positions; using 128" in _warnings(sink)
    plan = next(e for e in sink.events if isinstance(e, Planned))
    assert plan.max_length == 128 and plan.truncated_rows == 2


def test_the_causal_plan_shows_the_clamped_length_and_a_fitting_one_is_left_alone(tmp_path, tiny_llama):
    train = write_jsonl(tmp_path / "t.jsonl", [{"text": "the cat sat on the mat"}] * 4)
    sink = ListSink()
    run(_config(tiny_llama, train, "causal-lm", 4096), None, sink, dry_run=True)
    assert next(e for e in sink.events if isinstance(e, Planned)).max_length == 256
    assert "training.max_length 4096 is above the model's 256 positions; using 256" in _warnings(sink)
    quiet = ListSink()
    run(_config(tiny_llama, train, "causal-lm", 64), None, quiet, dry_run=True)
    assert next(e for e in quiet.events if isinstance(e, Planned)).max_length == 64
    assert not any("max_length" in warning for warning in _warnings(quiet))


def test_model_context_reads_positions_roberta_offsets_rope_scaling_and_the_tokenizer():
    from transformers import LlamaConfig, RobertaConfig

    class Tokenizer:
        model_max_length = 1000

    assert model_context(RobertaConfig(max_position_embeddings=514), Tokenizer()) == 512
    yarn = LlamaConfig(max_position_embeddings=32768,
                       rope_scaling={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768})
    assert model_context(yarn, Tokenizer()) == 131072

    class NoPositions:  # an architecture whose config names no position count
        def to_dict(self):
            return {"model_type": "mystery"}

    no_positions = NoPositions()
    assert model_context(no_positions, Tokenizer()) == 1000
    Tokenizer.model_max_length = int(1e30)  # transformers' "unset"
    assert model_context(no_positions, Tokenizer()) is None
