"""What a run leaves behind: the adapter or model folder and a model card (``summary.json``: ``RunSummary``)."""
from __future__ import annotations

import json
from pathlib import Path

from fttui.atomic import replacing_dir, write_text
from fttui.config import RunConfig, dump_config
from fttui.config.schema import FULL_MODEL_METHODS, saved_folder
from fttui.runner.summary import RunSummary


def remember_format(model, tokenizer) -> None:
    """Make the model stop where its template ends a turn: its config and generation config take the
    tokenizer's EOS (and the end-of-turn token), so a saved or merged model generates as it was trained."""
    from fttui.engine.data.chat import stop_token_ids

    stops = stop_token_ids(tokenizer)
    if not stops:
        return
    model.config.eos_token_id = stops[0]
    generation = getattr(model, "generation_config", None)
    if generation is not None:
        generation.eos_token_id = stops if len(stops) > 1 else stops[0]
        generation.pad_token_id = tokenizer.pad_token_id


def save_trained(model, tokenizer, run_dir: Path, method: str, labels: list[str] | None,
                 state_dict: dict | None = None, base_model: str = "", base_model_path: str = "") -> Path:
    """PEFT or bottleneck adapter (``adapter/``) or full model (``model/``), safetensors, with tokenizer; atomic.

    The tokenizer carries the chat template the run trained with (the fallback included) and its EOS.

    ``state_dict`` is the full set of weights when they were sharded over several ranks (FSDP, DeepSpeed).
    Bottleneck adapters record ``base_model`` (as the user named it) and its resolved path.
    """
    target = run_dir / saved_folder(method)
    with replacing_dir(target) as tmp:
        if method == "adapter":
            from fttui.engine.methods.bottleneck import save_adapters

            save_adapters(model, tmp, base_model, base_model_path)
        else:
            model.save_pretrained(tmp, safe_serialization=True, **({"state_dict": state_dict} if state_dict else {}))
        tokenizer.save_pretrained(tmp)
        if labels is not None:
            (tmp / "labels.json").write_text(json.dumps(labels) + "\n", encoding="utf-8")
    return target


def _metric_lines(summary: RunSummary) -> list[str]:
    """``| metric | base model | fine-tuned |`` rows: every eval metric, before -> after."""
    shown = lambda value: f"{value:.4f}" if isinstance(value, (int, float)) else "-"  # noqa: E731
    lines = [f"| {name} | {shown(pair.base)} | {shown(pair.tuned)} |" for name, pair in summary.metrics.items()
             if pair.tuned is not None]
    if isinstance(summary.train_loss, (int, float)):
        lines.append(f"| train loss | - | {summary.train_loss:.4f} |")
    return lines


def _details_section(summary: RunSummary) -> str:
    """Confusion matrix (classification) or the sample generations (causal LM) of the last evaluation."""
    details = summary.details
    parts = []
    if details.get("confusion_matrix"):
        labels = details["labels"]
        parts.append("Confusion matrix (rows: true label, columns: predicted):\n")
        parts.append("| | " + " | ".join(map(str, labels)) + " |")
        parts.append("|" + " --- |" * (len(labels) + 1))
        parts += [f"| {label} | " + " | ".join(map(str, row)) + " |" for label, row in zip(labels, details["confusion_matrix"])]
    for sample in details.get("samples", []):
        parts.append(f"\n**Prompt:**\n```\n{sample['prompt'].strip()}\n```\n**Output:**\n```\n{sample['output'].strip()}\n```")
    best = (f"\n\nBest checkpoint: step {summary.best_step} ({summary.best_metric}). "
            if summary.best_step is not None else "\n\n")
    return "\n".join(parts) + best + f"Stopped because: {summary.stop_reason or 'n/a'}.\n"


def write_model_card(run_dir: Path, config: RunConfig, summary: RunSummary, output: Path | None) -> None:
    """A Hugging Face style README.md: what was trained, on what, how, and how well."""
    metrics = _metric_lines(summary)
    load_hint = ""
    if output is not None and output.name == "adapter" and config.method.name == "adapter":
        load_hint = ("\n## Use\n\nBottleneck adapters are fttui's own (see bottleneck_config.json):\n\n```python\n"
                     "from fttui.engine.methods.bottleneck import load_from_folder\n"
                     f"model = load_from_folder(\"{output}\")\n```\n")
    elif output is not None and output.name == "adapter":
        load_hint = (
            "\n## Use\n\n```python\nfrom peft import AutoPeftModelFor"
            + ("SequenceClassification" if summary.task == "seq-cls" else "CausalLM")
            + f"\nmodel = AutoPeftModelFor{'SequenceClassification' if summary.task == 'seq-cls' else 'CausalLM'}"
            + f".from_pretrained(\"{output}\")\n```\n"
        )
    card = f"""---
library_name: {"transformers" if config.method.name in FULL_MODEL_METHODS + ("adapter",) else "peft"}
base_model: {summary.base_model or config.model.name}
tags: [fttui, {config.method.name}, {summary.task or config.model.task}]
---

# {run_dir.name}

Fine-tuned with [fttui](https://pypi.org/project/fttui/) using **{config.method.name}** on `{config.data.train}`.
Status: **{summary.status}** after {summary.global_step} steps ({summary.epochs_done} epochs).

| metric | base model | fine-tuned |
| --- | --- | --- |
{chr(10).join(metrics) if metrics else "| (no evaluation) | | |"}

{_details_section(summary)}
Trainable parameters: {summary.trainable_params or 0:,} of {summary.total_params or 0:,}.
Device: {summary.device} ({summary.precision}); peak memory {summary.peak_memory_mb or 0:.0f} MB;
{summary.train_samples_per_second or 0:.1f} samples/s.
{load_hint}
## Reproduce

```bash
fttui --preset config.yaml
```

```yaml
{dump_config(config)}```
"""
    write_text(run_dir / "README.md", card)
    if output is not None:
        write_text(output / "README.md", card)
