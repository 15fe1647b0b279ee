"""training.compile: the decision rule, eager when off or too short, a compile error that leaves the run eager
with a warning, and `on` that really trains through compiled blocks."""
from __future__ import annotations

import json
import math

import pytest

from fttui.config import validate_config
from fttui.engine.training import compiling
from fttui.engine.training.compiling import COMPILED, EAGER, TIME_COMPILED, TIME_EAGER, choose
from fttui.engine.sink import ListSink
from fttui.events import Logged, StepLogged

N = compiling.MIN_MICRO_STEPS * 100  # a run long enough to time


@pytest.mark.parametrize("arguments, move, said", [
    (dict(setting="off", micro_steps=N), EAGER, "training.compile=off"),
    (dict(setting="off", micro_steps=N, obstacle="no C++ compiler"), EAGER, "off"),
    (dict(setting="on", micro_steps=1), TIME_COMPILED, "on"),  # on: compiled, however short (after a warm-up)
    (dict(setting="on", micro_steps=1, compiled_s=2.0, eager_s=1.0), COMPILED, "on"),  # even when slower
    (dict(setting="on", micro_steps=N, obstacle="not compiled with 2 processes"), EAGER, "2 processes"),
    (dict(setting="auto", micro_steps=compiling.MIN_MICRO_STEPS - 1), EAGER, "too few"),  # not even timed
    (dict(setting="auto", micro_steps=N), TIME_EAGER, "timing"),
    (dict(setting="auto", micro_steps=N, obstacle="no C++ compiler"), EAGER, "no C++ compiler"),
    # 3,000 steps x 0.01 s = 30 s of training cannot pay back ~60 s of compiling on a CPU...
    (dict(setting="auto", micro_steps=N, eager_s=0.01), EAGER, "would not pay back"),
    # ...nor 40 s on a GPU when 25% of 120 s is 30 s; 3,000 x 0.1 s = 300 s can
    (dict(setting="auto", micro_steps=N, eager_s=0.04, device="cuda"), EAGER, "would not pay back"),
    (dict(setting="auto", micro_steps=N, eager_s=0.1, device="cuda"), TIME_COMPILED, "timing"),
    (dict(setting="auto", micro_steps=N, eager_s=0.5), TIME_COMPILED, "timing"),
    # a compile cost measured earlier replaces the expected one: 300 s x 25% < 100 s
    (dict(setting="auto", micro_steps=N, eager_s=0.1, compile_s=100.0), EAGER, "would not pay back"),
    (dict(setting="auto", micro_steps=N, eager_s=0.5, compiled_s=0.3), COMPILED, "40% faster"),
    (dict(setting="auto", micro_steps=N, eager_s=0.5, compiled_s=0.49), EAGER, "not 5% faster"),  # 2%: not worth it
    (dict(setting="auto", micro_steps=N, eager_s=0.5, compiled_s=0.8), EAGER, "not 5% faster"),
])
def test_the_decision_rule(arguments, move, said):
    got, why = choose(**arguments)
    assert got == move and said in why


def config_for(model, train, run_dir, **training):
    return validate_config({
        "model": {"name": model, "task": "causal-lm"},
        "data": {"train": train, "eval": None},
        "method": {"name": "lora"},
        "training": {"max_steps": 4, "batch_size": 4, "logging_steps": 1, "max_length": 32, "save_steps": 100,
                     "precision": "fp32", "seed": 1, "fit_check": False, **training},
        "output": {"dir": str(run_dir)},
    })


def _run(config, run_dir):
    from fttui.engine.training.recipe import run

    sink = ListSink()
    outcome = run(config, run_dir, sink)
    assert outcome.status == "completed"
    assert all(math.isfinite(e.loss) for e in sink.events if isinstance(e, StepLogged))
    return outcome, sink, json.loads((run_dir / "summary.json").read_text())["compile"]


ANNOUNCED = "compile: compiling the model's blocks and timing them"


def _compile_lines(sink):
    """The decision (and any warning), without the line that announces the compiling."""
    return [e for e in sink.events if isinstance(e, Logged) and e.message.startswith("compile:")
            and not e.message.startswith(ANNOUNCED)]


@pytest.fixture
def compile_calls(monkeypatch):
    """Every torch.compile of a model or a forward, refused (libraries' own kernels, e.g. bitsandbytes', pass)."""
    import torch

    calls, original = [], torch.compile

    def refused(fn=None, *args, **kwargs):
        if isinstance(fn, torch.nn.Module) or getattr(fn, "__name__", "") in ("forward", "_call_impl"):
            calls.append(fn)
            raise AssertionError("torch.compile was called on the model")
        return original(fn, *args, **kwargs)

    monkeypatch.setattr(torch, "compile", refused)
    return calls


@pytest.mark.parametrize("setting", ["off", "auto"])  # auto: 4 steps are too few to be worth even timing
def test_off_and_short_auto_runs_never_compile(tmp_path, tiny_llama, alpaca_file, compile_calls, monkeypatch, setting):
    monkeypatch.setattr(compiling, "_seconds_per_step", lambda *a: pytest.fail("a step was timed"))
    outcome, sink, record = _run(config_for(tiny_llama, alpaca_file, tmp_path, compile=setting), tmp_path)

    assert compile_calls == [] and record["compiled"] is False and record["eager_s"] is None
    assert all("forward" not in vars(block) for block in compiling.blocks(outcome.model))
    lines = [e for e in sink.events if isinstance(e, Logged) and e.message.startswith("compile:")]
    assert (lines == []) if setting == "off" else ("too few" in lines[0].message and lines[0].level == "info")


def test_a_compile_error_leaves_the_run_eager_with_a_warning(tmp_path, tiny_llama, alpaca_file, monkeypatch):
    import torch
    from torch._dynamo.exc import BackendCompilerFailed

    def failing(fn, **kwargs):
        def compiled(*args, **kw):
            raise BackendCompilerFailed(kwargs.get("backend"), RuntimeError("no working C++ compiler"), None)
        return compiled

    monkeypatch.setattr(torch, "compile", failing)
    outcome, sink, record = _run(config_for(tiny_llama, alpaca_file, tmp_path, compile="on"), tmp_path)

    assert record["compiled"] is False and "BackendCompilerFailed" in record["reason"]
    [line] = _compile_lines(sink)
    assert line.level == "warning" and line.message.startswith("compile: eager (compiling failed")
    assert all("forward" not in vars(block) for block in compiling.blocks(outcome.model))  # eager again


def test_a_failed_recompile_mid_run_goes_on_eager(tiny_llama, monkeypatch):
    import torch
    from torch._inductor.exc import InductorError
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_llama).train()
    calls, warnings = [], []

    def compile_(fn, **kwargs):
        def compiled(*args, **kw):
            calls.append(1)
            if len(calls) > 2:  # the third call meets a new shape, whose compile fails
                raise InductorError(RuntimeError("C++ compile error"), None)
            return fn(*args, **kw)
        return compiled

    monkeypatch.setattr(torch, "compile", compile_)
    compiled = compiling.CompiledBlocks(compiling.blocks(model), warnings.append)
    ids = torch.tensor([[1, 2, 3, 4]])
    model(input_ids=ids, labels=ids).loss.backward()  # two blocks, compiled
    loss = model(input_ids=ids, labels=ids).loss  # fails in the first block: eager from here on
    loss.backward()
    assert len(calls) == 3 and not compiled.active and torch.isfinite(loss)
    assert len(warnings) == 1 and "InductorError" in warnings[0] and "eager" in warnings[0]
    assert all("forward" not in vars(block) for block in compiling.blocks(model))
    with torch.no_grad():  # and evaluation never went through the compiled path at all
        model.eval()(input_ids=ids)
    assert len(calls) == 3


class CountingBackend:
    """A dynamo backend (no C++ build, seconds not minutes) that counts the runs of the graphs it was given."""

    def __init__(self):
        self.graphs, self.runs = 0, 0

    def __call__(self, graph, example_inputs):
        from torch._dynamo.backends.common import aot_autograd
        from torch._dynamo.backends.debugging import boxed_nop

        self.graphs += 1

        def counted(gm, inputs):
            forward = boxed_nop(gm, inputs)

            def run(args):
                self.runs += 1
                return forward(args)
            run._boxed_call = True
            return run

        return aot_autograd(fw_compiler=counted, bw_compiler=boxed_nop)(graph, example_inputs)


def _counting(monkeypatch):
    import torch

    backend = CountingBackend()
    monkeypatch.setattr(compiling, "BACKEND", backend)
    torch._dynamo.reset()
    return backend


def test_on_trains_through_the_compiled_blocks(tmp_path, tiny_llama, alpaca_file, monkeypatch):
    backend = _counting(monkeypatch)
    probed = {}
    prepare = compiling.prepare

    def counted_prepare(*args, **kwargs):
        record = prepare(*args, **kwargs)
        probed["runs"] = backend.runs
        return record

    monkeypatch.setattr(compiling, "prepare", counted_prepare)
    outcome, sink, record = _run(config_for(tiny_llama, alpaca_file, tmp_path, compile="on"), tmp_path)

    assert record["compiled"] is True and record["compiled_s"] > 0 and backend.graphs >= 1
    # 4 training steps, each through both blocks, after the warm-up and timing: all compiled
    assert backend.runs - probed["runs"] >= 4 * 2
    [line] = _compile_lines(sink)
    assert line.message.startswith("compile: compiled (training.compile=on; compiling took")
    announced = [e for e in sink.events if isinstance(e, Logged) and e.message.startswith(ANNOUNCED)]
    assert len(announced) == 1 and sink.events.index(announced[0]) < sink.events.index(line)


def test_auto_times_both_and_keeps_the_faster(tmp_path, tiny_llama, alpaca_file, monkeypatch):
    _counting(monkeypatch)
    monkeypatch.setattr(compiling, "MIN_MICRO_STEPS", 1)
    monkeypatch.setattr(compiling, "EXPECTED_COMPILE_S", {"cpu": 1e-6})  # so that even 4 tiny steps may pay back
    timings = iter([(0.0, 0.0), (1.0, 3.0), (9.0, 10.0), (0.5, 1.5)])  # eager warm-up, eager, compiled warm-up...
    monkeypatch.setattr(compiling, "_seconds_per_step", lambda *a: next(timings))
    outcome, sink, record = _run(config_for(tiny_llama, alpaca_file, tmp_path), tmp_path)

    assert (record["setting"], record["compiled"], record["eager_s"], record["compiled_s"]) == ("auto", True, 1.0, 0.5)
    assert record["compile_s"] == 10.0 - 1.5  # the warm-up's wall time less that of the steps themselves
    assert "50% faster" in _compile_lines(sink)[0].message

    # A resume with those figures decides again without timing: eager when compiled was slower
    sink = ListSink()
    monkeypatch.setattr(compiling, "_seconds_per_step", lambda *a: pytest.fail("timed again"))
    earlier = {**record, "compiled_s": 2.0}
    again = compiling.prepare(outcome.trainer, "auto", 1000, "cpu", 1, sink, earlier)
    assert again["compiled"] is False and "not 5% faster" in again["reason"]
    assert "earlier start" in _compile_lines(sink)[0].message


@pytest.mark.slow
def test_on_compiles_with_inductor(tmp_path, tiny_llama, alpaca_file):
    """The real compiler (C++ on a CPU): a minute or two on 2 cores."""
    outcome, sink, record = _run(config_for(tiny_llama, alpaca_file, tmp_path, compile="on"), tmp_path)

    assert record["compiled"] is True and record["compile_s"] > 0, _compile_lines(sink)


def _pairs(path):
    rows = [{"prompt": f"how was it {i}?", "chosen": "it was good", "rejected": "it was bad"} for i in range(12)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("kind", ["seq-cls", "full+checkpointing", "dpo", "prefix"])
def test_every_kind_of_run_trains_compiled(tmp_path, tiny_llama, tiny_bert, sentiment_file, alpaca_file, monkeypatch,
                                           kind):
    """Classification, gradient checkpointing, a preference objective with its reference and prompt methods:
    each trains through compiled blocks (the fast backend; the C++ one is the slow test's) to a finite loss."""
    backend = _counting(monkeypatch)
    config = config_for(tiny_llama, alpaca_file, tmp_path, compile="on")
    raw = config.model_dump(mode="json")
    if kind == "seq-cls":
        raw["model"], raw["data"]["train"] = {"name": tiny_bert, "task": "seq-cls"}, sentiment_file
    elif kind == "full+checkpointing":
        raw["method"]["name"], raw["training"]["gradient_checkpointing"] = "full", True
    elif kind == "dpo":
        raw["data"]["train"], raw["training"]["objective"] = _pairs(tmp_path / "pairs.jsonl"), "dpo"
    else:
        raw["method"]["name"] = "prefix"
    outcome, sink, record = _run(validate_config(raw), tmp_path)

    assert record["compiled"] is True, _compile_lines(sink)[0].message
    assert backend.runs > 0
