"""The fine-tuning methods: one ``MethodSpec`` each, the one place a method's facts are written (torch-free).

Everything else reads this table: the schema (``method.name``'s choices and help, each method's ``method.*``
fields, its default learning rate, the combinations it refuses), planning (its rows, labels and quality order,
what it can shard or checkpoint, virtual tokens), the wizard (its row on the Method step, its form on the
Hyperparameters step, what Export offers) and the engine (its builder in ``engine/methods/build.py``, what it saves).
Adding a method is one spec here, one builder there and one estimator formula in ``planning/memory.py``; a
test walks this table and checks each method validates, estimates, renders its form and builds.
"""
from __future__ import annotations

from dataclasses import dataclass, field

LORA_FIELDS = ("lora_r", "lora_alpha", "lora_dropout", "lora_targets", "use_rslora")
BASE_OBJECTIVES = ("sft", "seq-cls")  # every method tunes a generator on replies or a classifier on labels
PREFERENCE = (*BASE_OBJECTIVES, "dpo", "orpo", "kto")  # DPO/KTO: their reference is the adapter off, or a copy


@dataclass(frozen=True)
class PlanRow:
    """One row of the planner's table: a method as it is sized, with the ``method.*`` values that pick it."""

    key: str
    label: str
    rank: int  # expected quality, 0 best (planning.recommend explains the order)
    values: dict = field(default_factory=dict)


@dataclass(frozen=True)
class MethodSpec:
    """What fttui knows about one method without loading anything."""

    name: str  # method.name
    label: str
    rank: int  # expected quality, 0 best; variants rank their own rows
    learning_rate: float  # the default peak learning rate (training.learning_rate unset)
    fields: tuple[str, ...]  # the method.* keys it reads: its wizard form, and what a preset shows
    blurb: str = ""  # a few words in method.name's help, e.g. "top blocks only"
    saves_whole_model: bool = False  # it changes base weights in place: the run saves model/, not adapter/
    mergeable: bool = False  # its adapter can be merged into the base weights on export
    gradient_checkpointing: bool = True
    unshardable: str = ""  # why FSDP/DeepSpeed cannot train it ("": they can)
    virtual_tokens: str = ""  # "input": learned tokens lengthen every sequence; "prefix": keys/values per layer
    layerwise: bool = False  # method.layer_lr_decay applies
    objectives: tuple[str, ...] = BASE_OBJECTIVES  # sft, seq-cls, and the training.objective values it supports
    variants: tuple[PlanRow, ...] = ()  # planner rows when it has more than one (QLoRA per bit width)

    @property
    def rows(self) -> tuple[PlanRow, ...]:
        return self.variants or (PlanRow(self.name, self.label, self.rank),)


SPECS = (
    MethodSpec("full", "Full", 0, 2e-5, ("layer_lr_decay",), saves_whole_model=True, layerwise=True,
               objectives=PREFERENCE),
    MethodSpec("lora", "LoRA", 1, 2e-4, LORA_FIELDS, mergeable=True, objectives=PREFERENCE),
    MethodSpec("dora", "DoRA", 2, 2e-4, LORA_FIELDS, mergeable=True, objectives=PREFERENCE),
    MethodSpec("qlora", "QLoRA", 4, 2e-4, (*LORA_FIELDS, "quant_bits", "quant_type", "double_quant"),
               blurb="4/8-bit base + LoRA", mergeable=True, objectives=PREFERENCE,
               unshardable="cannot shard QLoRA's 4/8-bit weights: use training.distributed=ddp (each GPU holds "
                           "the small quantized model), or method.name=lora with fsdp",
               variants=(PlanRow("qlora-8bit", "QLoRA 8-bit", 3, {"quant_bits": 8}),
                         PlanRow("qlora", "QLoRA", 4, {"quant_bits": 4}))),
    MethodSpec("prompt", "Prompt", 10, 3e-2, ("num_virtual_tokens", "prompt_init_text"),
               gradient_checkpointing=False, virtual_tokens="input"),
    MethodSpec("prefix", "Prefix", 8, 1e-2, ("num_virtual_tokens", "prefix_projection", "encoder_hidden_size"),
               gradient_checkpointing=False, virtual_tokens="prefix"),
    MethodSpec("ptuning", "P-tuning", 9, 1e-2, ("num_virtual_tokens", "encoder_hidden_size"),
               gradient_checkpointing=False, virtual_tokens="input"),
    MethodSpec("ia3", "IA3", 7, 3e-3, ("ia3_targets", "ia3_feedforward"), mergeable=True),
    MethodSpec("bitfit", "BitFit", 11, 1e-3, (), saves_whole_model=True),
    MethodSpec("freeze", "Freeze", 6, 5e-5, ("trainable_layers", "layer_lr_decay"), blurb="top blocks only",
               saves_whole_model=True, layerwise=True),
    MethodSpec("adapter", "Adapter", 5, 1e-3, ("adapter_reduction", "adapter_placement"),
               blurb="bottleneck adapters",
               unshardable="bottleneck adapters are saved from whole weights, not shards; use "
                           "training.distributed=ddp, or method.name=lora"),
)
REGISTRY = {spec.name: spec for spec in SPECS}
METHODS = tuple(REGISTRY)  # method.name's choices, in the order the schema has always listed them
PLAN_ROWS = tuple(sorted((row for spec in SPECS for row in spec.rows), key=lambda row: row.rank))
ROW_METHOD = {row.key: spec for spec in SPECS for row in spec.rows}  # planning row -> its method


def spec(name: str) -> MethodSpec:
    """The spec of ``method.name``."""
    return REGISTRY[name]


def names(**capabilities) -> tuple[str, ...]:
    """Methods whose specs have these values, e.g. ``names(saves_whole_model=True)``."""
    return tuple(s.name for s in SPECS if all(getattr(s, key) == value for key, value in capabilities.items()))


def plan_row(method: str, values: dict | None = None) -> str:
    """The planner's row for a method with these ``method.*`` values (QLoRA with quant_bits 8: qlora-8bit)."""
    rows, given = REGISTRY[method].rows, values or {}
    matching = [row.key for row in rows if row.values and all(given.get(k) == v for k, v in row.values.items())]
    return matching[0] if matching else method if method in (row.key for row in rows) else rows[0].key


def name_help() -> str:
    """method.name's one-line help, from the labels and blurbs."""
    parts = [f"{s.name} ({s.blurb})" if s.blurb else s.name for s in SPECS]
    return f"{', '.join(parts[:-1])} or {parts[-1]}."
