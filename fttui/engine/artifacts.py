"""What a run leaves behind: the adapter or model folder, ``summary.json`` and a model card."""
from __future__ import annotations

import json
from pathlib import Path

from fttui.atomic import replacing_dir, write_json, write_text
from fttui.config import RunConfig, dump_config


def save_trained(model, tokenizer, run_dir: Path, method: str, labels: list[str] | None) -> Path:
    """PEFT adapter (``adapter/``) or full model (``model/``), safetensors, with tokenizer; atomic."""
    target = run_dir / ("model" if method == "full" else "adapter")
    with replacing_dir(target) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        if labels is not None:
            (tmp / "labels.json").write_text(json.dumps(labels) + "\n", encoding="utf-8")
    return target


def write_summary(run_dir: Path, summary: dict) -> None:
    write_json(run_dir / "summary.json", summary)


def _metric_lines(summary: dict) -> list[str]:
    keys = ("eval_accuracy", "eval_f1_macro", "eval_loss", "perplexity", "train_loss")
    return [f"| {key} | {summary[key]:.4f} |" for key in keys if isinstance(summary.get(key), (int, float))]


def write_model_card(run_dir: Path, config: RunConfig, summary: dict, output: Path | None) -> None:
    """A Hugging Face style README.md: what was trained, on what, how, and how well."""
    metrics = _metric_lines(summary)
    load_hint = ""
    if output is not None and output.name == "adapter":
        load_hint = (
            "\n## Use\n\n```python\nfrom peft import AutoPeftModelFor"
            + ("SequenceClassification" if summary.get("task") == "seq-cls" else "CausalLM")
            + f"\nmodel = AutoPeftModelFor{'SequenceClassification' if summary.get('task') == 'seq-cls' else 'CausalLM'}"
            + f".from_pretrained(\"{output}\")\n```\n"
        )
    card = f"""---
library_name: {"peft" if config.method.name != "full" else "transformers"}
base_model: {summary.get("base_model", config.model.name)}
tags: [fttui, {config.method.name}, {summary.get("task", config.model.task)}]
---

# {run_dir.name}

Fine-tuned with [fttui](https://pypi.org/project/fttui/) using **{config.method.name}** on `{config.data.train}`.
Status: **{summary.get("status")}** after {summary.get("global_step")} steps ({summary.get("epochs_done")} epochs).

| metric | value |
| --- | --- |
{chr(10).join(metrics) if metrics else "| (no evaluation) | |"}

Trainable parameters: {summary.get("trainable_params", 0):,} of {summary.get("total_params", 0):,}.
Device: {summary.get("device")} ({summary.get("precision")}); peak memory {summary.get("peak_memory_mb", 0):.0f} MB;
{summary.get("train_samples_per_second") or 0:.1f} samples/s.
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
