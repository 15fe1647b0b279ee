"""``training.compile``: compiled training steps where they pay, eager everywhere else, never a failed run.

What is compiled: the model's repeated blocks (every outermost transformers ``GradientCheckpointingLayer``: the
decoder or encoder layers), each through one ``torch.compile`` of its class's ``forward`` shared by all blocks
of that class, so a model compiles one block, not forty. The embeddings, the LM head and its loss
(engine.training.cpu_lm_head's masked scoring has data-dependent shapes), peft's wrappers and the Trainer stay eager,
and so does every call outside training (evaluation, sample generations, chat): a block runs compiled only in
train mode with gradients on. Gradient checkpointing stays inside the compiled block. Lengths vary from batch
to batch; after the second shape dynamo compiles the block for any length, so recompiles stay bounded.

``auto`` (planning by ``choose``): a run shorter than ``MIN_MICRO_STEPS`` micro-batches stays eager untimed;
otherwise a few eager steps are timed on the run's own rows, and if the run's expected training time is under
``1 / HOPED_SAVING`` times what compiling costs here, it stays eager (compiling could not pay back); otherwise
the blocks are compiled, warmed up on the same batches (the compile time is measured) and timed again, and the
faster is kept. ``on`` compiles and warms up without the eager timing. A compile error in the warm-up, or in a
later recompile, leaves the run eager with a warning. The decision and its figures are logged and kept in
``summary.json`` (``compile``); a resumed run reuses them instead of timing again.
"""
from __future__ import annotations

import functools
import gc
import shutil
import time
import types

import torch

from fttui.engine.data.lengths import row_lengths
from fttui.engine.training.trainer_setup import rng_preserved
from fttui.events import Logged

EAGER, TIME_EAGER, TIME_COMPILED, COMPILED = "eager", "time-eager", "time-compiled", "compiled"
MIN_MICRO_STEPS = 30  # below this, even timing a few eager steps would cost over a tenth of the run
HOPED_SAVING = 0.25  # compiling pays back when it saves this share of the expected training time...
MIN_GAIN = 0.05  # ...and is kept when the compiled steps are at least this much faster than the eager ones
EXPECTED_COMPILE_S = {"cpu": 60.0, "cuda": 40.0}  # until measured (2 busy CPU cores: 55-60 s cold, 6 s cached)
PROBE_BATCHES = 3
BACKEND = "inductor"


def choose(setting: str, micro_steps: int, obstacle: str | None = None, eager_s: float | None = None,
           compiled_s: float | None = None, compile_s: float | None = None, device: str = "cpu") -> tuple[str, str]:
    """The next move and why: EAGER or COMPILED (decided), or TIME_EAGER / TIME_COMPILED (measure that, ask again).

    ``micro_steps``: the forward-backward passes left to train; ``obstacle``: why nothing can be compiled here
    (no C++ compiler, no repeated blocks, several processes), or None; the ``_s`` figures, once measured: seconds
    per eager and per compiled step, and what compiling cost (else ``EXPECTED_COMPILE_S[device]`` applies).
    """
    if setting == "off":
        return EAGER, "training.compile=off"
    if obstacle:
        return EAGER, obstacle
    if setting == "on":
        return (COMPILED, "training.compile=on") if compiled_s is not None else (TIME_COMPILED, "training.compile=on")
    if micro_steps < MIN_MICRO_STEPS:
        return EAGER, f"{micro_steps} steps are too few for compiling to pay back"
    if eager_s is None:
        return TIME_EAGER, "timing eager steps"
    expected, cost = micro_steps * eager_s, compile_s or EXPECTED_COMPILE_S.get(device, EXPECTED_COMPILE_S["cpu"])
    if compiled_s is None and expected * HOPED_SAVING < cost:
        return EAGER, (f"about {expected:,.0f} s of training ({micro_steps} steps x {eager_s:.3g} s); compiling "
                       f"costs about {cost:,.0f} s here and would not pay back")
    if compiled_s is None:
        return TIME_COMPILED, "timing compiled steps"
    gain = 1 - compiled_s / eager_s
    if gain >= MIN_GAIN:
        return COMPILED, f"compiled steps {compiled_s:.3g} s vs eager {eager_s:.3g} s ({gain:.0%} faster)"
    return EAGER, f"compiled steps {compiled_s:.3g} s vs eager {eager_s:.3g} s: not {MIN_GAIN:.0%} faster"


def blocks(model) -> list[torch.nn.Module]:
    """The outermost repeated blocks of ``model`` (a peft model's too): the modules that are compiled."""
    from transformers.modeling_layers import GradientCheckpointingLayer

    found, inside = [], ()
    for name, module in model.named_modules():
        if isinstance(module, GradientCheckpointingLayer) and not name.startswith(inside):
            found.append(module)
            inside = (*inside, name + ".")
    return found


def is_compile_error(error: BaseException) -> bool:
    """Raised by dynamo or inductor (a failed trace, lowering, C++ or Triton build), not by the model."""
    return type(error).__module__.startswith(("torch._dynamo", "torch._inductor"))


class CompiledBlocks:
    """The compiled forwards set on ``modules``; ``active`` False sends every call back to eager."""

    def __init__(self, modules, warn):
        self.modules, self.warn, self.active = modules, warn, True
        self.probing = False  # while warming up, a compile error is the probe's to report
        compiled = {}
        for module in modules:
            cls = type(module)
            if cls not in compiled:
                compiled[cls] = torch.compile(cls.forward, backend=BACKEND)
            module.forward = types.MethodType(self._dispatch(cls.forward, compiled[cls]), module)

    @staticmethod
    def undo(modules) -> None:
        """Take off what an earlier ``CompiledBlocks`` set (the same model prepared again)."""
        for module in modules:
            if getattr(vars(module).get("forward"), "_fttui_compiled", False):
                del module.forward

    def _dispatch(self, eager, compiled):
        state = self

        @functools.wraps(eager)
        def forward(self, *args, **kwargs):
            if not (state.active and self.training and torch.is_grad_enabled()):
                return eager(self, *args, **kwargs)
            try:
                return compiled(self, *args, **kwargs)
            except Exception as error:  # a recompile for a new shape failed: it failed before running, so rerun
                if state.probing or not is_compile_error(error):
                    raise
                state.release()
                state.warn(f"compiling failed ({_first_line(error)}); training goes on eager")
                return eager(self, *args, **kwargs)

        forward._fttui_compiled = True
        return forward

    def release(self) -> None:
        """Back to the class's eager forward on every block."""
        self.active = False
        for module in self.modules:
            module.__dict__.pop("forward", None)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200]}" if text else type(error).__name__


def _obstacle(model, device: str, processes: int) -> str | None:
    if processes > 1:
        return f"not compiled with {processes} processes"
    if device not in ("cpu", "cuda"):
        return f"not compiled on {device}"
    if device == "cpu" and not any(shutil.which(c) for c in ("g++", "c++", "clang++", "gcc", "cc")):
        return "no C++ compiler found (install gcc to compile on a CPU)"
    found = blocks(model)
    if not found:
        return "the model has no repeated blocks to compile"
    if any("forward" in vars(block) for block in found):  # e.g. accelerate's hooks: not to be replaced
        return "the model's blocks have their forward replaced already"
    return None


def probe_batches(trainer, count: int = PROBE_BATCHES) -> list[dict]:
    """``count`` batches of the run's own rows, each of similar lengths as the length-grouped sampler makes them."""
    size = trainer.args.per_device_train_batch_size
    dataset = trainer.train_dataset
    rows = min(len(dataset), size * count)
    lengths = row_lengths(dataset.select(range(rows)))
    order = sorted(range(rows), key=lengths.__getitem__)
    return [trainer.data_collator([dataset[i] for i in order[start:start + size]])
            for start in range(0, rows, size)]


def _seconds_per_step(trainer, batches: list[dict], device: str) -> tuple[float, float]:
    """(seconds per forward-backward pass over ``batches``, wall seconds in all); random streams, weights untouched.

    On a CPU the first is the process's CPU time over its threads: a step as long as it takes on an idle machine.
    On a shared one the wall clock of a few steps swings tenfold with the neighbours' load (measured: 0.6 to 10 s
    for the same batch), which would decide at random; the CPU time the steps cost does not.
    """
    model = trainer.model
    if not hasattr(trainer, "current_gradient_accumulation_steps"):  # set by train(), read by training_step
        trainer.current_gradient_accumulation_steps = 1
    model.train()
    try:
        with rng_preserved():
            if device == "cuda":
                torch.cuda.synchronize()
            start, cpu = time.perf_counter(), time.process_time()
            for batch in batches:
                trainer.training_step(model, trainer._prepare_inputs(batch))
            if device == "cuda":
                torch.cuda.synchronize()
            wall = time.perf_counter() - start
            spent = wall if device == "cuda" else (time.process_time() - cpu) / max(torch.get_num_threads(), 1)
            return spent / len(batches), wall
    finally:
        model.zero_grad(set_to_none=True)


FIGURES = ("eager_s", "compiled_s", "compile_s")


def prepare(trainer, setting: str, micro_steps: int, device: str, processes: int, sink,
            previous: dict | None = None) -> dict:
    """Decide, compile if it pays, and say so; the record for ``summary.json``. ``previous``: an earlier record
    of this run (a resume), whose figures are reused instead of timing again."""
    reused = previous if previous and previous.get("setting") == setting else {}
    figures = {key: reused.get(key) for key in FIGURES}
    CompiledBlocks.undo(blocks(trainer.model))
    obstacle = _obstacle(trainer.model, device, processes) if setting != "off" else None
    batches = compiled = None
    while True:
        move, why = choose(setting, micro_steps, obstacle, **figures, device=device)
        if move == COMPILED and compiled is None:  # decided on an earlier run's figures: compile and warm up now
            move = TIME_COMPILED
        if move in (EAGER, COMPILED):
            break
        batches = batches or probe_batches(trainer)
        if move == TIME_EAGER:
            try:
                _seconds_per_step(trainer, batches[:1], device)  # warm-up: allocator, threads, lazy inits
                figures["eager_s"] = _seconds_per_step(trainer, batches, device)[0]
            except torch.OutOfMemoryError:  # training's own recovery (engine.training.oom) deals with it
                obstacle = "out of memory while timing eager steps"
        else:  # the first step waits for this: say why
            cost = figures["compile_s"] or EXPECTED_COMPILE_S.get(device, EXPECTED_COMPILE_S["cpu"])
            sink.emit(Logged(f"compile: compiling the model's blocks and timing them (about {cost:,.0f} s; "
                             "training.compile=off skips it)"))
            compiled, obstacle = _compile_and_time(trainer, batches, device, figures, sink)
    if move == EAGER and compiled is not None:
        compiled.release()
    gc.collect()
    if setting != "off":
        took = f"; compiling took {figures['compile_s']:,.0f} s" if compiled is not None else ""
        again = " (figures from this run's earlier start)" if reused and figures["eager_s"] == reused.get("eager_s") else ""
        sink.emit(Logged(f"compile: {move} ({why}{took}){again}",
                         "warning" if setting == "on" and move == EAGER else "info"))
    return {"setting": setting, "compiled": move == COMPILED, "reason": why, **figures}


def _compile_and_time(trainer, batches, device: str, figures: dict, sink):
    """(CompiledBlocks, None) with ``figures`` updated, or (None, why): compile, warm up on ``batches``, time them."""
    def warn(message: str) -> None:
        sink.emit(Logged(f"compile: {message}", "warning"))

    compiled = None
    try:
        compiled = CompiledBlocks(blocks(trainer.model), warn)
        compiled.probing = True
        warm_up = _seconds_per_step(trainer, batches, device)[1]  # compiles, and recompiles once the lengths vary
        compiled_s, wall = _seconds_per_step(trainer, batches, device)
        compiled.probing = False
    except Exception as error:  # eager steps ran on these batches, or will: what failed here is the compiler's
        if compiled is not None:
            compiled.release()
        if device == "cuda":
            torch.cuda.empty_cache()
        return None, f"compiling failed: {_first_line(error)}"
    figures.update(compiled_s=compiled_s, compile_s=max(warm_up - wall, 0.0))
    return compiled, None
