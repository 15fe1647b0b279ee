"""Bad values in every form give inline errors and keep the user on the step; nothing crashes."""
from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, Static

from fttui.config.methods import METHODS, REGISTRY
from fttui.tui.screens.dataset import DatasetScreen
from fttui.tui.screens.export import ExportScreen
from fttui.tui.screens.hyperparams import HyperparamsScreen
from fttui.tui.screens.model import ModelScreen
from fttui.tui.screens.review import ReviewScreen
from fttui.tui.widgets.form import parse
from fttui.tui.widgets.modals import PathModal

from .conftest import drive, RUN_NAME, recorded_events, wait_for, write_run


async def set_field(pilot, field_id: str, text: str) -> None:
    control = pilot.app.screen.query_one(f"#{field_id}", Input)
    control.focus()
    control.value = ""
    await pilot.press(*text) if text else None
    await pilot.pause()


def error_of(app, field_id: str) -> str:
    widget = app.screen.query_one(f"#error-{field_id}", Static)
    return str(widget.render()) if widget.has_class("visible") else ""


MODEL_CASES = [
    ("model-name", "./no/such/model", "no model folder"),
    ("model-name", "", "required"),
]


@pytest.mark.parametrize("field,text,expected", MODEL_CASES)
def test_model_form_errors(make_app, field, text, expected):
    app = make_app(1)

    async def body(pilot):
        await set_field(pilot, field, text)
        await pilot.press("ctrl+n")
        assert isinstance(app.screen, ModelScreen)
        message = error_of(app, field) or str(app.screen.query_one("#nav-status", Static).render())
        assert expected in message.lower() or "fix" in message.lower()

    drive(app, body)


def test_model_task_causal_lm_on_an_encoder(make_app):
    app = make_app(1)

    async def body(pilot):
        app.screen.query_one("#model-task").value = "causal-lm"
        await pilot.press("ctrl+n")
        assert isinstance(app.screen, ModelScreen)
        assert "encoder" in error_of(app, "model-task")

    drive(app, body)


DATA_CASES = [
    ("data-train", "missing/train.jsonl", "file not found"),
    ("data-eval", "0.9", "between 0 and 0.5"),
    ("data-eval", "nowhere.jsonl", "file not found"),
    ("data-max_train_rows", "-3", "greater than 0"),
    ("data-max_train_rows", "many", "integer"),
    ("data-text_column", "body", "no column 'body'"),
    ("length-max_length", "abc", "integer"),
    ("length-max_length", "4", "greater than 8"),
]


@pytest.mark.parametrize("field,text,expected", DATA_CASES)
def test_dataset_form_errors(make_app, field, text, expected):
    app = make_app(3)

    async def body(pilot):
        await wait_for(pilot, lambda: app.draft.preview is not None, what="the preview")
        await set_field(pilot, field, text)
        await pilot.press("ctrl+n")
        assert isinstance(app.screen, DatasetScreen)
        assert expected in error_of(app, field)

    drive(app, body)


HYPER_CASES = [
    ("training-learning_rate", "abc", "valid number"),
    ("training-learning_rate", "5", "less than 1"),
    ("training-batch_size", "0", "greater than 0"),
    ("training-batch_size", "1.5", "integer"),
    ("training-epochs", "-1", "greater than 0"),
    ("training-warmup_ratio", "1.5", "less than 1"),
    ("training-max_steps", "ten", "integer"),
    ("training-seed", "x", "integer"),
    ("method-lora_r", "-1", "greater than 0"),
    ("method-lora_dropout", "2", "less than 1"),
    ("method-lora_targets", "q_proj", "not a linear layer"),
]


@pytest.mark.parametrize("field,text,expected", HYPER_CASES)
def test_hyperparameter_form_errors(make_app, field, text, expected):
    app = make_app(4)

    async def body(pilot):
        await set_field(pilot, field, text)
        await wait_for(pilot, lambda: expected in error_of(app, field), what="the inline error")  # as typed
        await pilot.press("ctrl+n")
        assert isinstance(app.screen, HyperparamsScreen)
        assert "fix" in str(app.screen.query_one("#nav-status", Static).render())

    drive(app, body)


def test_prompt_tuning_refuses_gradient_checkpointing(make_app):
    app = make_app(None)
    app.draft.sections["method"]["name"] = "prompt"

    async def body(pilot):
        app.show_step(4)
        await pilot.pause()
        app.screen.query_one("#training-gradient_checkpointing").value = True
        await pilot.pause()
        await pilot.press("ctrl+n")
        assert isinstance(app.screen, HyperparamsScreen)
        assert "does not support" in error_of(app, "training-gradient_checkpointing")

    drive(app, body)


@pytest.mark.parametrize("method", METHODS)
def test_each_registered_method_shows_its_settings_with_help(make_app, method):
    """The method registry's fields for each method are its Hyperparameters form (BitFit has none)."""
    from fttui.config.schema import MethodSection

    app = make_app(None)
    app.draft.sections["method"]["name"] = method

    async def body(pilot):
        app.show_step(4)
        await pilot.pause()
        forms = app.screen.query("#method-form")
        if not REGISTRY[method].fields:
            assert not forms
            return
        help_lines = [str(widget.render()) for widget in forms.first().query(".field-help")]
        assert help_lines == [MethodSection.model_fields[name].description for name in REGISTRY[method].fields]
        assert help_lines and all(help_lines)

    drive(app, body)


def test_the_method_step_has_a_row_per_registered_row_and_picks_its_defaults(make_app):
    """Every planner row of the registry is on the Method step; choosing it sets the method, its row's values
    (QLoRA's bit width), its default learning rate, and turns checkpointing off where the method cannot."""
    from textual.widgets import DataTable

    from fttui.config.methods import PLAN_ROWS, ROW_METHOD

    app = make_app(2)

    async def body(pilot):
        table = app.screen.query_one(DataTable)
        assert [table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(table.row_count)] == \
            [p.method for p in app.draft.recommendation.methods] and table.row_count == len(PLAN_ROWS)
        for row in PLAN_ROWS:
            spec = ROW_METHOD[row.key]
            app.draft.sections["method"]["name"] = "full" if spec.name != "full" else "lora"  # a change of method
            result = app.screen.result_for(row.key)
            method, training = result.sections["method"], result.sections["training"]
            assert method.name == spec.name and all(getattr(method, k) == v for k, v in row.values.items())
            assert training.learning_rate == spec.learning_rate
            assert spec.gradient_checkpointing or training.gradient_checkpointing is False

    drive(app, body)


def test_adapter_settings_are_validated_inline(make_app):
    app = make_app(None)
    app.draft.sections["method"]["name"] = "adapter"

    async def body(pilot):
        app.show_step(4)
        await pilot.pause()
        await set_field(pilot, "method-adapter_reduction", "0")
        await pilot.press("ctrl+n")
        assert isinstance(app.screen, HyperparamsScreen)
        assert "greater than 0" in error_of(app, "method-adapter_reduction")

    drive(app, body)


def test_review_start_failure_is_shown_not_raised(make_app):
    app = make_app(5)
    app.draft.sections["data"]["train"] = "gone.jsonl"  # vanished since the Dataset step

    async def body(pilot):
        await pilot.press("ctrl+n")
        assert isinstance(app.screen, ReviewScreen)
        assert "file not found" in str(app.screen.query_one("#nav-status", Static).render())

    class Refusing(type(app.services)):
        def start_run(self, config):
            from fttui.runner.preflight import preflight

            preflight(config)

    app.services.__class__ = Refusing
    drive(app, body)


def test_save_preset_dialog_needs_a_path_and_writes_yaml(make_app, workdir):
    app = make_app(5)

    async def body(pilot):
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, PathModal)
        await set_field(pilot, "path-input", "")
        await pilot.press("enter")
        assert isinstance(app.screen, PathModal)
        assert "give a path" in str(app.screen.query_one("#path-error", Static).render())
        await set_field(pilot, "path-input", "mine.yaml")
        await pilot.press("enter")
        assert isinstance(app.screen, ReviewScreen)

    drive(app, body)
    from fttui.config import load_config

    assert load_config(str(workdir / "mine.yaml")).output.name == "minilm-lora-train"  # named after what it trains


def test_the_adapter_is_exported_through_the_export_worker(make_app, workdir):
    events = recorded_events()
    run = write_run(workdir / "runs", RUN_NAME, events)
    app = make_app(None)

    async def body(pilot):
        app.push_screen(ExportScreen(run))
        await pilot.pause()
        result = app.screen.query_one("#adapter-result")
        await set_field(pilot, "adapter-dest", "")
        await pilot.click("#adapter")
        assert "give a folder" in str(result.render())
        await set_field(pilot, "adapter-dest", "fresh")
        await pilot.pause(0.3)  # a button ignores clicks for 0.2 s after one (its "active" effect)
        await pilot.click("#adapter")
        await wait_for(pilot, lambda: "adapter written to fresh" in str(result.render()), what="the export")

    drive(app, body)
    assert app.services.merges == [(run, Path("fresh"), "float32")]  # fttui export's path, not a copy of its own


@pytest.mark.parametrize("text,expected", [("", None), ("null", None), ("0.1", 0.1), ("a, b", ["a", "b"])])
def test_parse_types_like_set(text, expected):
    from fttui.config.schema import DataSection, MethodSection

    annotation = (MethodSection if "," in text else DataSection).model_fields[
        "lora_targets" if "," in text else "eval"].annotation
    assert parse(text, annotation) == expected


def test_offline_hub_id_says_so_plainly_and_can_go_on(make_app, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    app = make_app(1)

    async def body(pilot):
        await set_field(pilot, "model-name", "someorg/some-model")
        await pilot.press("enter")
        info = app.screen.query_one("#model-info", Static)
        await wait_for(pilot, lambda: "can't be reached" in str(info.render()), what="the offline message")
        assert "builtin" in str(info.render())  # says what to do instead
        await pilot.press("ctrl+n")
        from fttui.tui.screens.method import MethodScreen

        assert isinstance(app.screen, MethodScreen)  # no estimate, but the user may go on
        intro = str(app.screen.query_one("#method-intro", Static).render())
        assert "No memory estimate" in intro and intro.rstrip().endswith("Pick a method.")
        assert "))" not in intro and ").." not in intro and ".." not in intro  # sentences end where they should

    drive(app, body)


def test_file_picker_sets_the_training_file(make_app, workdir):
    from fttui.tui.widgets.modals import FilePickerModal

    app = make_app(3)

    async def body(pilot):
        await wait_for(pilot, lambda: app.draft.preview is not None)
        await pilot.press("ctrl+o")
        assert isinstance(app.screen, FilePickerModal)
        tree = app.screen.query_one("#picker-tree")
        await wait_for(pilot, lambda: tree.cursor_node is not None and tree.root.children)
        await pilot.press("escape")
        assert isinstance(app.screen, DatasetScreen)
        app.screen.action_browse()
        await pilot.pause()
        app.screen.dismiss(str(workdir / "data" / "eval.jsonl"))  # what Enter on a file does
        await pilot.pause()
        assert app.screen.query_one("#data-train", Input).value.endswith("data/eval.jsonl")

    drive(app, body)


def test_back_keeps_valid_edits_and_next_returns_to_them(make_app):
    app = make_app(4)

    async def body(pilot):
        await set_field(pilot, "training-max_steps", "7")
        await pilot.press("escape")
        from fttui.tui.screens.dataset import DatasetScreen

        assert isinstance(app.screen, DatasetScreen)
        await wait_for(pilot, lambda: app.draft.preview is not None)
        await pilot.press("ctrl+n")
        assert isinstance(app.screen, HyperparamsScreen)
        assert app.screen.query_one("#training-max_steps", Input).value == "7"

    drive(app, body)


def test_export_merge_and_save_preset(make_app, workdir):
    events = recorded_events()
    run = write_run(workdir / "runs", RUN_NAME, events)
    app = make_app(None)

    async def body(pilot):
        app.push_screen(ExportScreen(run))
        await pilot.pause()
        app.screen.query_one("#merge-dtype").value = "bfloat16"
        await pilot.click("#merge")
        await wait_for(pilot, lambda: "merged model written" in str(app.screen.query_one("#merge-result").render()))
        assert app.services.merges[-1][2] == "bfloat16"
        await set_field(pilot, "preset-dest", "")
        await pilot.click("#save-preset")
        assert "saved" in str(app.screen.query_one("#save-preset-result").render())

    drive(app, body)
    from fttui.config import load_config

    assert load_config(str(workdir / "preset.yaml")).output.name == "quickstart"


def test_the_wizard_names_a_run_after_what_it_trains_unless_the_user_named_it():
    from fttui.tui.draft import Draft

    draft = Draft.quickstart("runs")
    assert draft.get("output", "name") == "quickstart"
    assert draft.name_run() == "minilm-lora-train"
    draft.update("method", {"name": "qlora"})
    draft.update("model", {"name": "/models/My Llama 3B/"})
    assert draft.name_run() == "my-llama-3b-qlora-train"  # the made-up name follows the choices
    draft.update("output", {"name": "sentiment-v2"})
    draft.update("method", {"name": "dora"})
    assert draft.name_run() == "sentiment-v2"  # a name the user typed is kept


def test_the_dataset_step_shows_unreadable_rows():
    from dataclasses import replace

    from fttui.tui.screens.dataset import render_preview

    from .conftest import recorded_preview

    preview = recorded_preview()
    assert "cannot be read" not in render_preview(preview).plain
    shown = render_preview(replace(preview, bad_rows=3)).plain
    assert f"3 of {preview.measured_rows:,} rows cannot be read as {preview.data_format}" in shown


def test_file_picker_starts_in_your_folder_and_goes_anywhere(make_app, workdir):
    """With the quickstart's bundled data (inside the installed package), Browse opens in the current folder."""
    from pathlib import Path

    from fttui.config import load_config
    from fttui.tui.widgets.modals import FilePickerModal

    app = make_app(3)
    app.draft.sections["data"]["train"] = load_config("quickstart").data.train  # the package's own file

    async def body(pilot):
        app.screen.action_browse()
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, FilePickerModal)
        tree = picker.query_one("#picker-tree")
        assert Path(tree.path).resolve() == workdir.resolve()
        await pilot.press("backspace")
        await pilot.pause()
        assert Path(tree.path).resolve() == workdir.resolve().parent
        assert str(workdir.resolve().parent) in str(picker.query_one("#picker-title").render())
        await pilot.press("tilde")
        await pilot.pause()
        assert Path(tree.path) == Path.home()

    drive(app, body)


def test_every_field_name_shows_whole_with_a_gap_before_its_control(make_app):
    """At 80x24: 'gradient checkpointing' ran into its value ('gradient checkpointingoff'), and
    'early stopping patience' lost its last letter."""
    from textual.widgets import Label

    app = make_app(4)

    async def body(pilot):
        await pilot.pause()
        assert isinstance(app.screen, HyperparamsScreen)
        names = list(app.screen.query(".field-name").results(Label))
        assert any("gradient checkpointing" in str(label.render()) for label in names)
        for label in names:
            text = str(label.render()).strip()
            assert label.content_region.width >= len(text) and label.region.width > len(text), text

    drive(app, body, size=(80, 24))


def test_a_local_causal_lm_switches_the_task_unless_the_user_chose_one(make_app, workdir):
    """The quickstart draft says seq-cls; typing a ...ForCausalLM folder must not leave it there (issue 13)."""
    import json

    from textual.widgets import Select

    folder = workdir / "my-llama"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 1000,
        "max_position_embeddings": 256}))
    app = make_app(1)

    async def body(pilot):
        task = app.screen.query_one("#model-task", Select)
        assert task.value == "seq-cls"
        await set_field(pilot, "model-name", str(folder))
        await pilot.press("enter")
        await wait_for(pilot, lambda: task.value == "causal-lm", what="the task to follow the model")
        await set_field(pilot, "model-name", "builtin")
        await pilot.press("enter")
        await wait_for(pilot, lambda: task.value == "seq-cls", what="an encoder to bring seq-cls back")
        task.value = "auto"  # the user's choice from here on
        await pilot.pause()
        await set_field(pilot, "model-name", str(folder))
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.draft.shape is not None and app.draft.shape.source == str(folder),
                       what="the folder's config")
        await pilot.pause()
        assert task.value == "auto"

    drive(app, body)


def test_an_encoder_decoder_keeps_seq_cls_and_auto_is_refused_with_the_engines_words(make_app, workdir):
    """flan-t5: the Model step says what the engine would refuse (generation) and keeps seq-cls, which trains."""
    import json

    from textual.widgets import Select

    folder = workdir / "my-t5"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({
        "architectures": ["T5ForConditionalGeneration"], "model_type": "t5", "is_encoder_decoder": True,
        "d_model": 64, "d_kv": 16, "d_ff": 128, "num_layers": 2, "num_heads": 4, "vocab_size": 1000}))
    app = make_app(1)

    async def body(pilot):
        task = app.screen.query_one("#model-task", Select)
        await set_field(pilot, "model-name", str(folder))
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.draft.shape is not None and app.draft.shape.source == str(folder),
                       what="the folder's config")
        await pilot.pause()
        assert task.value == "seq-cls"  # the quickstart's task stays: auto would not train
        task.value = "auto"
        await pilot.pause()
        assert "encoder-decoder" in str(app.screen.query_one("#model-info", Static).render())
        await pilot.press("ctrl+n")
        assert isinstance(app.screen, ModelScreen)
        assert "encoder-decoder" in error_of(app, "model-task")

    drive(app, body)


@pytest.mark.parametrize("step", [2, 3, 4, 5])
def test_after_esc_the_previous_step_has_a_field_in_focus(make_app, step):
    """Going back must land on something to type into or choose from, not on nothing (issue 19)."""
    from textual.widgets import DataTable, Select

    app = make_app(step)

    async def body(pilot):
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.INDEX == step - 1
        assert isinstance(app.focused, (Input, Select, DataTable)), app.focused

    drive(app, body)
