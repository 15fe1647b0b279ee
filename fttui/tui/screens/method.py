"""Step 3: every fine-tuning method with its memory estimate against what is available; the best preselected."""
from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from fttui.config.methods import SPECS, spec
from fttui.config.schema import MethodSection, TrainingSection
from fttui.planning import planning_name
from fttui.tui import services
from fttui.tui.screens.base import StepResult, WizardStep
from fttui.tui.widgets.bars import bar_text
from fttui.tui.widgets.modals import ConfirmModal

OFFLINE_METHODS = tuple(s.name for s in sorted(SPECS, key=lambda s: (s.name != "lora", s.rank)))  # LoRA first


def _count(n: int) -> str:
    return f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.1f}M" if n >= 1e5 else f"{n:,}"


def _why(plan) -> str:
    """The table's short reason; the panel under the table has the full one."""
    if not plan.applicable:
        return "not applicable"
    if plan.method not in services.TRAINABLE:
        return "not in fttui yet"
    if not plan.fits:
        return "over the memory available"
    parts = ["tight" if not plan.headroom else "fits"]
    if plan.gradient_checkpointing:
        parts.append("with checkpointing")
    if plan.seconds_per_step is not None:
        parts.append(f"~{plan.seconds_per_step:g} s/step")
    return ", ".join(parts)


class MethodScreen(WizardStep):
    INDEX = 2

    def __init__(self, draft):
        super().__init__(draft)
        self.plans: dict = {}

    def compose_body(self) -> ComposeResult:
        with Vertical(classes="body"):
            yield Static("", id="method-intro", classes="intro")
            yield DataTable(id="method-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="method-detail", classes="info-panel")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        shape, report = self.draft.shape, self.draft.hardware
        intro = self.query_one("#method-intro", Static)
        current = planning_name(self.draft.get("method", "name", "lora"), self.draft.get("method", "quant_bits", 4))
        if shape is None or report is None:
            table.add_columns("method", "fits", "memory", "batch", "trainable", "why")
            reason = (self.draft.shape_error or "unknown model").strip().rstrip(".")
            intro.update(Text(f"No memory estimate: the model's config could not be read. {reason[:1].upper()}"
                              f"{reason[1:]}.\nPick a method.", style="yellow"))
            for method in OFFLINE_METHODS:
                table.add_row(method, "?", "-", "-", "-", "no estimate", key=method)
            self._select(current if current in OFFLINE_METHODS else "lora")
        else:
            self.draft.recommendation = rec = services.recommend(shape, report, self.draft.raw())
            unit = "GB RAM" if rec.budget.device == "cpu" else "GB per GPU"
            best = rec.recommended or "-"
            objective = self.draft.get("training", "objective", "sft")
            grey = "this model" if objective == "sft" else f"this model or to training.objective={objective}"
            intro.update(Text.assemble(("Recommended: ", "bold"), (best, "bold green"),
                                       f"   budget {rec.budget.memory_gb:.1f} {unit} ({rec.budget.source}). "
                                       f"Rows in grey do not apply to {grey}.", *[f"\n{n}" for n in rec.notes]))
            table.add_columns("method", "fits", f"memory of {rec.budget.memory_gb:.0f} GB", "batch", "trainable",
                              "why")
            for plan in rec.methods:
                self.plans[plan.method] = plan
                table.add_row(*self._cells(plan, rec.budget.memory_gb, rec.recommended), key=plan.method)
            first_visit = self.draft.plan is None
            self._select(rec.recommended if first_visit and rec.recommended in services.TRAINABLE else current)
        table.focus()

    def _cells(self, plan, available: float, recommended: str | None) -> list:
        trainable = plan.method in services.TRAINABLE and plan.applicable
        dim = "" if trainable else "bright_black"
        name = Text(plan.label + (" ★" if plan.method == recommended else ""), style=dim or "bold")
        if not plan.applicable:
            fits = Text("n/a", style="bright_black")
        elif plan.fits:
            fits = Text("yes" if plan.headroom else "tight", style="green" if plan.headroom else "yellow")
        else:
            fits = Text("no", style="red")
        memory = bar_text(0, available, width=6, need=plan.estimated_gb)
        memory.truncate(6)
        memory.append(f" {plan.estimated_gb:.1f} GB")
        return [name, fits, memory, str(plan.batch_size), _count(plan.trainable_params), Text(_why(plan), style=dim)]

    def _select(self, method: str | None) -> None:
        table = self.query_one(DataTable)
        if method is None:
            return
        try:
            table.move_cursor(row=table.get_row_index(method))
        except Exception:
            pass
        self._show_detail(method)

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(event.row_key.value)

    @on(DataTable.RowSelected)
    def _selected(self) -> None:
        self.action_next()

    def _show_detail(self, method: str | None) -> None:
        plan = self.plans.get(method)
        detail = self.query_one("#method-detail", Static)
        if plan is None:
            detail.update(Text(f"{method}: no estimate without the model's config", style="dim"))
            return
        text = Text(plan.reason)
        if plan.multi_gpu:
            text.append(f"\n{plan.multi_gpu}")
        for note in plan.notes:
            text.append(f"\nnote: {note}", style="dim")
        if method not in services.TRAINABLE:
            text.append("\nfttui cannot train this method yet: choose another row.", style="yellow")
        detail.update(text)

    def chosen(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def result_for(self, method: str) -> StepResult:
        name, extra = services.TRAINABLE[method]
        previous = self.draft.get("method", "name")
        section = MethodSection.model_validate({**self.draft.sections["method"], "name": name, **extra})
        training = dict(self.draft.sections["training"])
        plan = self.plans.get(method)
        if plan is not None and (self.draft.plan is None or previous != name):
            training.update(batch_size=plan.batch_size, gradient_checkpointing=plan.gradient_checkpointing)
        if previous != name or self.draft.plan is None and not training.get("learning_rate"):
            training["learning_rate"] = spec(name).learning_rate
        if not spec(name).gradient_checkpointing:
            training["gradient_checkpointing"] = False
        return StepResult("next", {"method": section, "training": TrainingSection.model_validate(training)}, plan=plan)

    def action_next(self) -> None:
        method = self.chosen()
        if method is None:
            return
        plan = self.plans.get(method)
        if method not in services.TRAINABLE or (plan is not None and not plan.applicable):
            reason = plan.reason if plan is not None and plan.reason else "it does not apply to this model"
            self.set_status(f"{plan.label if plan else method} cannot train here ({reason}): pick another")
            return
        if plan is not None and not plan.fits:
            budget = self.draft.recommendation.budget
            question = (f"{plan.label} needs about {plan.estimated_gb:.1f} GB but {budget.memory_gb:.1f} GB is "
                        "available: training will probably run out of memory. Choose it anyway?")

            def answered(yes: bool | None) -> None:
                if yes:
                    self.dismiss(self.result_for(method))

            self.app.push_screen(ConfirmModal(question, "Choose it anyway", "Pick another", title="Does not fit"),
                                 answered)
            return
        self.dismiss(self.result_for(method))
