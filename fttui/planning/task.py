"""What a model is trained for when ``model.task`` is ``auto``: the one rule the wizard, ``fttui recommend``,
the planner and the engine all apply (torch-free).

The rule reads only the config: an architecture named ``...ForCausalLM``/``...LMHeadModel`` generates text
(causal-lm), one named ``...ForSequenceClassification`` classifies (seq-cls); otherwise the model's kind decides:
decoders generate, encoders classify, and anything of an unknown type classifies (the classifier head is the
one every architecture has). Encoder-decoders (T5) generate, in the planner's words "causal-lm" (the seq2seq
loss, which it can size), but fttui cannot train that yet: ``trainable_task`` says so and names the way out,
``model.task=seq-cls``, which trains them as classifiers.
"""
from __future__ import annotations

from fttui.errors import ConfigError
from fttui.planning.shape import ENCODERS, LLAMA_LIKE, T5_LIKE, ModelShape

CAUSAL_SUFFIXES = ("ForCausalLM", "LMHeadModel")
CLASSIFIER_SUFFIXES = ("ForSequenceClassification",)
DECODERS = LLAMA_LIKE | {"phi", "gpt2", "bloom"}  # the decoder families planning.shape counts


def declared_kind(config: dict) -> str:
    """decoder | encoder | encoder-decoder as ``shape_from_config`` counts the family; for a type it does not
    know, encoder-decoder when the config says so, else unknown (the shape counts it as a generic decoder)."""
    model_type = str(config.get("model_type") or "").lower()
    if model_type in DECODERS:
        return "decoder"
    if model_type in ENCODERS:
        return "encoder"
    if model_type in T5_LIKE or config.get("is_encoder_decoder"):
        return "encoder-decoder"
    return "unknown"


def _facts(model: ModelShape | dict) -> tuple[str, str, str]:
    """(architecture, kind, name) of a ModelShape or of a config.json mapping, read the same way for both."""
    if isinstance(model, ModelShape):
        kind = "unknown" if model.family == "generic" else model.kind
        return model.architecture or "", kind, model.source
    config = model
    if isinstance(config.get("text_config"), dict) and "hidden_size" not in config:
        config = config["text_config"]  # multimodal: its language model, as shape_from_config counts it
    architecture = (config.get("architectures") or [""])[0] or ""
    return architecture, declared_kind(config), str(model.get("_name_or_path") or "the model")


def resolve_task(model: ModelShape | dict, requested: str = "auto") -> str:
    """``requested`` unless it is ``auto``; then causal-lm or seq-cls, by the rule in the module docstring."""
    if requested != "auto":
        return requested
    architecture, kind, _ = _facts(model)
    if architecture.endswith(CAUSAL_SUFFIXES):
        return "causal-lm"
    if architecture.endswith(CLASSIFIER_SUFFIXES):
        return "seq-cls"
    return "causal-lm" if kind in ("decoder", "encoder-decoder") else "seq-cls"


def trainable_task(model: ModelShape | dict, requested: str = "auto", name: str | None = None) -> str:
    """The task a run trains; a ConfigError where fttui cannot train it (encoder-decoder generation)."""
    task = resolve_task(model, requested)
    _, kind, source = _facts(model)
    if task == "causal-lm" and kind == "encoder-decoder":
        family = model.family if isinstance(model, ModelShape) else str(model.get("model_type") or "?")
        raise ConfigError(
            f"{name or source} is an encoder-decoder model ({family}): fttui cannot train it to generate text yet",
            "set model.task=seq-cls to train it as a text classifier, or choose a decoder model "
            "(e.g. Qwen/Qwen2.5-0.5B) to generate text")
    return task
