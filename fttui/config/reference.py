"""The config reference as Markdown, generated from the schema (the README's "Every key" tables).

``python -m fttui.config.reference`` prints it; a test checks the README holds every row, so the docs
cannot drift from the schema.
"""
from __future__ import annotations

from pydantic_core import PydanticUndefined

from fttui.config.schema import RunConfig


def _default(field) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "(required)"
    value = field.default_factory() if field.default_factory is not None else field.default
    return "null" if value is None else str(value)


def key_rows(section: str) -> list[str]:
    model = RunConfig.model_fields[section].annotation
    return [f"| `{section}.{name}` | `{_default(field)}` | {field.description or ''} |"
            for name, field in model.model_fields.items()]


def reference_markdown() -> str:
    parts = []
    for section in RunConfig.model_fields:
        parts += [f"**{section}**", "", "| key | default | meaning |", "| --- | --- | --- |", *key_rows(section), ""]
    return "\n".join(parts)


if __name__ == "__main__":
    print(reference_markdown())
