"""The wizard with preference pairs: the Dataset step turns the objective to DPO, and the Hyperparameters
step shows the objective and beta."""
from __future__ import annotations

from dataclasses import replace

from fttui.tui.screens.dataset import DatasetScreen
from fttui.tui.screens.hyperparams import HyperparamsScreen

from .conftest import drive, recorded_preview


def test_pairs_in_the_dataset_step_make_the_objective_dpo(make_app):
    app = make_app(3)

    async def body(pilot):
        await pilot.pause()
        assert isinstance(app.screen, DatasetScreen)
        app.draft.preview = replace(recorded_preview(), data_format="classification")
        assert app.screen.collect().sections["training"].objective == "sft"
        app.draft.preview = replace(recorded_preview(), data_format="preference")
        assert app.screen.collect().sections["training"].objective == "dpo"
        app.draft.sections["training"]["objective"] = "kto"  # a choice the user made is kept
        assert app.screen.collect().sections["training"].objective == "kto"

    drive(app, body)


def test_the_hyperparameters_step_offers_the_objective_and_beta(make_app):
    app = make_app(4)

    async def body(pilot):
        await pilot.pause()
        assert isinstance(app.screen, HyperparamsScreen)
        assert app.screen.query_one("#training-objective") and app.screen.query_one("#training-beta")

    drive(app, body)


def test_the_objective_choice_offers_orpo_and_says_it_needs_no_reference_model(make_app):
    from textual.widgets import Select, Static

    app = make_app(4)

    async def body(pilot):
        await pilot.pause()
        select = app.screen.query_one("#training-objective", Select)
        assert "orpo" in [value for _, value in select._options]
        select.value = "orpo"
        await pilot.pause()
        help_line = app.screen.query_one("#row-training-objective").query(".field-help").first(Static)
        assert "orpo:" in str(help_line.render()) and "no reference model" in str(help_line.render())
        assert app.screen.collect().sections["training"].objective == "orpo"

    drive(app, body)
