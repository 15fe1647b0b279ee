"""The README's config reference is the schema's: every key, default and help line, and no stale ones."""
from __future__ import annotations

import re
from pathlib import Path

from fttui.config.reference import key_rows
from fttui.config.schema import RunConfig

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_config_key_is_documented_as_the_schema_says():
    text = README.read_text(encoding="utf-8")
    missing = [row for section in RunConfig.model_fields for row in key_rows(section) if row not in text]
    assert missing == [], "README is out of date; regenerate with: python -m fttui.config.reference"


def test_the_readme_documents_no_key_the_schema_lacks():
    text = README.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `((?:model|data|method|training|output)\.\w+)` \|", text, flags=re.M))
    known = {f"{section}.{name}" for section in RunConfig.model_fields
             for name in RunConfig.model_fields[section].annotation.model_fields}
    assert documented - known == set()
