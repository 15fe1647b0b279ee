"""Try a finished run: the base and the fine-tuned model answer the same input, side by side.

The models are loaded once and kept resident while a front end asks (``serve`` reads JSON lines from
stdin). An adapter run holds one copy of the base weights: the base answers with the adapter switched
off. Decoding is greedy, so the same input always gives the same answers.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import IO

import torch

from fttui.engine.training.samples import generate_reply
from fttui.engine.sink import Sink
from fttui.engine.trained.saved import TrainedRun, describe_run, load_base_model, load_run_tokenizer, load_tuned
from fttui.events import Logged, TryAnswered

MAX_NEW_TOKENS = 48
READY_TOPIC = "ready"  # the Logged topic that says the models are loaded


class TryModels:
    """A run's base and fine-tuned models, ready to answer prompts (causal LM) or sentences (classification)."""

    def __init__(self, run: TrainedRun, tokenizer, tuned, base=None, data_format: str = "text",
                 max_new_tokens: int = MAX_NEW_TOKENS):
        self.run, self.tokenizer, self.tuned, self.base = run, tokenizer, tuned, base
        self.data_format = data_format
        self.max_new_tokens = max_new_tokens
        for model in (tuned, base):
            if model is not None:
                model.eval()

    @classmethod
    def load(cls, run_dir: Path, max_new_tokens: int = MAX_NEW_TOKENS) -> TryModels:
        from transformers import set_seed

        run = describe_run(Path(run_dir))
        tokenizer = load_run_tokenizer(run)
        set_seed(run.config.training.seed)  # an untrained classification head starts as in the baseline eval
        tuned = load_tuned(run)
        base = None
        if not hasattr(tuned, "disable_adapter"):  # a full fine-tune: the base is a second model
            set_seed(run.config.training.seed)
            base = load_base_model(run)
        from fttui.runner.run_folder import RunFolder

        summary = RunFolder(run_dir).summary()
        return cls(run, tokenizer, tuned, base, summary.data_format if summary and summary.data_format else "text",
                   max_new_tokens)

    @property
    def task(self) -> str:
        return self.run.task

    def prompt_for(self, text: str) -> str:
        """The user's text as training showed it: inside the instruction or chat template the run learned."""
        return self.conversation_prompt([{"role": "user", "content": text}])

    def conversation_prompt(self, messages: list[dict]) -> str:
        """A conversation (user and assistant turns) rendered for the model to answer its last message."""
        if self.task == "seq-cls" or self.data_format not in ("alpaca", "chat"):
            return messages[-1]["content"]
        from fttui.engine.data.chat import Renderer

        if self.run.config.data.system_prompt:
            messages = [{"role": "system", "content": self.run.config.data.system_prompt}, *messages]
        return Renderer(self.tokenizer).prompt(messages)  # the template the run saved with its tokenizer

    def _both(self, answer):
        """``answer(model)`` for the base and then the fine-tuned model."""
        if self.base is not None:
            return answer(self.base), answer(self.tuned)
        with self.tuned.disable_adapter():
            before = answer(self.tuned)
        return before, answer(self.tuned)

    def _generate(self, model, prompt: str) -> str:
        return generate_reply(model, self.tokenizer, prompt, self.max_new_tokens)

    def stream(self, model, prompt: str):
        """The same greedy reply as ``_generate``, yielded piece by piece while it is generated."""
        from transformers import TextIteratorStreamer

        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        failed: list[BaseException] = []

        def work():
            try:
                generate_reply(model, self.tokenizer, prompt, self.max_new_tokens, streamer)
            except BaseException as error:  # re-raised in the caller's thread, after the stream ends
                failed.append(error)
                streamer.end()

        thread = threading.Thread(target=work, daemon=True, name="fttui-generate")
        thread.start()
        yield from streamer
        thread.join()
        if failed:
            raise failed[0]

    def _classify(self, model, text: str) -> tuple[str, float]:
        encoded = self.tokenizer(text, return_tensors="pt", truncation=True,
                                 max_length=self.run.config.training.max_length)
        device = next(model.parameters()).device
        with torch.no_grad():
            logits = model(**{key: value.to(device) for key, value in encoded.items()}).logits[0]
        probabilities = logits.float().softmax(-1)
        index = int(probabilities.argmax())
        labels = self.run.labels
        return (labels[index] if labels and index < len(labels) else str(index)), float(probabilities[index])

    def answer(self, text: str) -> TryAnswered:
        if not text.strip():
            return TryAnswered(prompt=text, task=self.task, error="type something first")
        if self.task == "seq-cls":
            (base, base_p), (tuned, tuned_p) = self._both(lambda model: self._classify(model, text))
            return TryAnswered(prompt=text, base=base, tuned=tuned, task=self.task, base_probability=base_p,
                               tuned_probability=tuned_p)
        prompt = self.prompt_for(text)
        base, tuned = self._both(lambda model: self._generate(model, prompt))
        return TryAnswered(prompt=text, base=base, tuned=tuned, task=self.task)


def _read_prompt(line: str) -> str:
    """A request line: ``{"prompt": "..."}``, or plain text for people typing into the worker by hand."""
    stripped = line.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError:
            return stripped
        if isinstance(data, dict):
            return str(data.get("prompt", ""))
    return line.rstrip("\n")


def serve(run_dir: Path, requests: IO[str], sink: Sink, stop: threading.Event | None = None) -> None:
    """Load once, say ready, then answer each request line with a TryAnswered event until stdin closes."""
    models = TryModels.load(run_dir)
    sink.emit(Logged(f"ready: the base and the fine-tuned model of {Path(run_dir).name} are loaded "
                     f"({models.task})", topic=READY_TOPIC))
    while stop is None or not stop.is_set():
        line = requests.readline()
        if not line:
            return
        text = _read_prompt(line)
        try:
            sink.emit(models.answer(text))
        except Exception as error:  # one bad input must not end the session
            sink.emit(TryAnswered(prompt=text, task=models.task, error=f"{type(error).__name__}: {error}"[:300]))
