"""The draft config the wizard carries from step to step, plus what the steps learned on the way.

Sections are kept as plain dicts (what the user typed, already validated by the step that owns them),
so a step can be revisited and the whole thing resolved into a ``RunConfig`` at any time. A step hands its part
back as a ``StepResult``; the app merges it with ``Draft.absorb``, whichever step it came from.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from fttui.config import RunConfig, validate_config

if TYPE_CHECKING:  # types only: the wizard imports planning's modules when a step first needs them
    from fttui.events import Previewed
    from fttui.hardware import HardwareReport
    from fttui.planning.recommend import MethodPlan, Recommendation
    from fttui.planning.shape import ModelShape

SECTIONS = ("model", "data", "method", "training", "output", "ui")


@dataclass
class StepResult:
    """What a step hands back: ``next`` with the sections it owns (or ``back`` with those worth keeping).

    ``plan``: the Method step's chosen row (None without an estimate); ``confirmed``: the Review step's resolved
    config, which the app starts.
    """

    action: Literal["next", "back"]
    sections: dict[str, BaseModel] = field(default_factory=dict)
    plan: MethodPlan | None = None
    confirmed: RunConfig | None = None


@dataclass
class Draft:
    sections: dict[str, dict] = field(default_factory=lambda: {name: {} for name in SECTIONS})
    hardware: HardwareReport | None = None
    shape: ModelShape | None = None  # of the chosen model, None when unknown (offline)
    shape_error: str | None = None
    recommendation: Recommendation | None = None  # what the Method step showed last
    plan: MethodPlan | None = None  # the row the user chose on the Method step
    preview: Previewed | None = None  # of the current data
    preview_key: tuple | None = None  # what ``preview`` was made from (the Dataset step reuses it when unchanged)
    suggested_name: str | None = None  # the run name the wizard made up last (replaced when the choices change)

    @classmethod
    def from_config(cls, config: RunConfig, runs_dir: Path | str | None = None) -> Draft:
        draft = cls(sections={name: getattr(config, name).model_dump(mode="json") for name in SECTIONS})
        if runs_dir is not None:
            draft.sections["output"]["runs_dir"] = str(runs_dir)
        return draft

    @classmethod
    def quickstart(cls, runs_dir: Path | str | None = None, overrides: list[str] | None = None) -> Draft:
        """The wizard starts from the quickstart preset: built-in model, bundled sentiment data (and ``fttui --set``'s
        ``ui.*`` keys)."""
        from fttui.config import load_config

        return cls.from_config(load_config("quickstart", overrides), runs_dir)

    def name_run(self) -> str:
        """Name the run after what it trains (``minilm-lora-train``), unless the user typed a name of their own.

        Every run from the wizard was named "quickstart" after the preset it starts from.
        """
        output = self.sections.setdefault("output", {})
        current = output.get("name")
        if current not in (None, "", "quickstart", self.suggested_name):
            return current
        model = str(self.get("model", "name", "builtin"))
        model = "minilm" if model == "builtin" else Path(model.rstrip("/")).name
        data = Path(str(self.get("data", "train", "data"))).stem
        name = "-".join(part for part in (model, str(self.get("method", "name", "lora")), data) if part)
        self.suggested_name = output["name"] = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-").lower()[:60]
        return self.suggested_name

    def raw(self) -> dict:
        return copy.deepcopy(self.sections)

    def update(self, name: str, section: BaseModel | dict) -> None:
        values = section.model_dump(mode="json") if isinstance(section, BaseModel) else dict(section)
        self.sections[name] = {**self.sections.get(name, {}), **values}

    def absorb(self, result: StepResult) -> None:
        """Merge what a step handed back; the same for every step, so the app never asks which one it was."""
        for name, section in result.sections.items():
            self.update(name, section)
        if result.plan is not None:
            self.plan = result.plan

    def config(self) -> RunConfig:
        """The resolved config; raises ConfigError listing every problem."""
        return validate_config(self.raw(), "wizard")

    def get(self, section: str, key: str, default=None):
        return self.sections.get(section, {}).get(key, default)
