"""Presets, ``--set`` overrides and validation: typed values, paths, and every problem reported at once."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fttui.config import dump_config, load_config, validate_config
from fttui.config.presets import find_preset
from fttui.errors import ConfigError, ExitCode

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "presets" / "quickstart.yaml"

ROWS = [{"text": "good", "label": "pos"}, {"text": "bad", "label": "neg"}]


def config_error(*args, **kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(*args, **kwargs)
    return info.value


# --- the shipped quickstart -------------------------------------------------------------------


def test_quickstart_loads_by_name_with_its_bundled_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the data must be found wherever the user runs fttui from
    config = load_config("quickstart")
    assert config.model.name == "builtin"
    assert config.model.task == "seq-cls"
    assert config.method.name == "lora"
    assert config.output.name == "quickstart"
    for reference in (config.data.train, config.data.eval):
        path = Path(reference)
        assert path.is_absolute() and path.is_file(), reference
    assert Path(config.data.train).samefile(REPO / "presets" / "data" / "sentiment" / "train.jsonl")


def test_quickstart_by_path_equals_quickstart_by_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_config(str(QUICKSTART)) == load_config("quickstart")
    assert load_config("quickstart.yaml") == load_config("quickstart")


def test_unknown_preset_name_lists_the_shipped_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    error = config_error("no-such-preset")
    assert "no-such-preset" in error.message
    assert "quickstart" in error.hint
    assert error.exit_code == ExitCode.USAGE


def test_a_path_to_a_missing_yaml_is_not_mistaken_for_a_shipped_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="preset not found"):
        find_preset("somewhere/quickstart.yaml")


# --- paths ------------------------------------------------------------------------------------


def test_relative_data_paths_resolve_against_the_preset_folder(tmp_preset, tmp_path, monkeypatch):
    preset = tmp_preset(
        {"data": {"train": "data/train.jsonl", "eval": "data/eval.jsonl"}},
        files={"data/train.jsonl": ROWS, "data/eval.jsonl": ROWS},
        name="my.yaml",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(str(preset))
    assert config.data.train == str((tmp_path / "data" / "train.jsonl").resolve())
    assert config.data.eval == str((tmp_path / "data" / "eval.jsonl").resolve())
    assert config.output.name == "my"  # default run name: the preset's file name


def test_relative_model_folder_resolves_against_the_preset_folder(tmp_preset, tmp_path, monkeypatch):
    (tmp_path / "models" / "mine").mkdir(parents=True)
    preset = tmp_preset({"model": {"name": "models/mine"}, "data": {"train": "t.jsonl"}}, files={"t.jsonl": ROWS})
    monkeypatch.chdir(tmp_path / "models")
    assert load_config(str(preset)).model.name == str((tmp_path / "models" / "mine").resolve())


def test_paths_that_do_not_exist_and_hub_ids_are_left_as_written(tmp_preset, tmp_path, monkeypatch):
    preset = tmp_preset({"model": {"name": "org/model"}, "data": {"train": "stanfordnlp/imdb", "eval": "missing.jsonl"}})
    monkeypatch.chdir(tmp_path)
    config = load_config(str(preset))
    assert (config.model.name, config.data.train, config.data.eval) == ("org/model", "stanfordnlp/imdb", "missing.jsonl")


def test_paths_given_with_set_stay_relative_to_the_current_folder(tmp_preset, tmp_path, monkeypatch):
    preset = tmp_preset({"data": {"train": "t.jsonl"}}, files={"t.jsonl": ROWS, "other.jsonl": ROWS})
    monkeypatch.chdir(tmp_path / "..")
    config = load_config(str(preset), ["data.train=other.jsonl"])
    assert config.data.train == "other.jsonl"  # not re-based on the preset's folder


# --- --set overrides --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "override, section, key, expected",
    [
        ("training.batch_size=4", "training", "batch_size", 4),
        ("training.learning_rate=1e-4", "training", "learning_rate", 1e-4),
        ("training.learning_rate=0.0003", "training", "learning_rate", 3e-4),
        ("training.epochs=2", "training", "epochs", 2.0),
        ("training.gradient_checkpointing=true", "training", "gradient_checkpointing", True),
        ("training.gradient_checkpointing=false", "training", "gradient_checkpointing", False),
        ("method.lora_targets=[q,v]", "method", "lora_targets", ["q", "v"]),
        ("method.lora_targets=[q_proj, v_proj]", "method", "lora_targets", ["q_proj", "v_proj"]),
        ("training.max_steps=null", "training", "max_steps", None),
        ("data.eval=null", "data", "eval", None),
        ("data.eval=0.2", "data", "eval", 0.2),
        ("data.eval=held_out.jsonl", "data", "eval", "held_out.jsonl"),
        ("data.labels=[a, b, c]", "data", "labels", ["a", "b", "c"]),
        ("method.quant_bits=8", "method", "quant_bits", 8),
        # string fields keep the text verbatim, never YAML-typed into bools or numbers
        ("output.name=yes", "output", "name", "yes"),
        ("output.name=123", "output", "name", "123"),
        ("model.name=on", "model", "name", "on"),
        ("data.system_prompt=yes", "data", "system_prompt", "yes"),
        ("data.system_prompt=a: b, [c]", "data", "system_prompt", "a: b, [c]"),
        ("data.text_column=007", "data", "text_column", "007"),
    ],
)
def test_set_values_are_typed_by_the_schema(tmp_preset, override, section, key, expected):
    preset = tmp_preset({"data": {"train": "t.jsonl"}, "training": {"max_steps": 10}}, files={"t.jsonl": ROWS})
    value = getattr(getattr(load_config(str(preset), [override]), section), key)
    assert value == expected
    assert type(value) is type(expected)


def test_set_overrides_the_preset_and_keeps_the_rest(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = load_config("quickstart")
    config = load_config("quickstart", ["training.epochs=1", "training.epochs=2"])  # the last one wins
    assert config.training.epochs == 2.0
    assert config.training.batch_size == base.training.batch_size == 16
    assert config.method == base.method


@pytest.mark.parametrize(
    "override, where, suggestion",
    [
        ("training.epoch=1", "training.epoch", "training.epochs"),
        ("trainig.epochs=1", "trainig", "training"),
        ("method.lora_rank=4", "method.lora_rank", "method.lora_r"),
    ],
)
def test_unknown_set_key_suggests_the_closest_one(override, where, suggestion):
    error = config_error("quickstart", [override])
    assert f"{where}: unknown key" in error.message
    assert f"did you mean {suggestion}?" in error.message


@pytest.mark.parametrize("override", ["training.epochs", "=3", "epochs=3", "training.epochs.x=3"])
def test_malformed_set_is_a_config_error(override):
    error = config_error("quickstart", [override])
    assert "--set" in error.message
    assert (override.partition("=")[0] or override) in error.message


def test_all_bad_overrides_are_reported_together():
    error = config_error("quickstart", ["training.epoch=1", "training.batch_size=abc", "method.lora_r=0"])
    assert "3 problems" in error.message
    assert "training.epoch: unknown key" in error.message
    assert "training.batch_size" in error.message and "'abc'" in error.message
    assert "method.lora_r" in error.message


def test_set_null_clears_an_optional_string_field(tmp_preset):
    preset = tmp_preset({"data": {"train": "t.jsonl", "text_column": "body"}, "output": {"dir": "fixed"}},
                        files={"t.jsonl": ROWS})
    config = load_config(str(preset), ["output.dir=null", "data.text_column=null"])
    assert config.output.dir is None
    assert config.data.text_column is None


def test_integer_label_set_is_accepted_as_strings(tmp_preset):
    preset = tmp_preset({"data": {"train": "t.jsonl", "labels": [0, 1]}}, files={"t.jsonl": ROWS})
    assert load_config(str(preset)).data.labels == ["0", "1"]


@pytest.mark.parametrize(("written", "meant"), [("off", "off"), ("on", "on"), ("no", "off"), ("auto", "auto")])
def test_a_bare_on_or_off_switch_means_the_word(tmp_preset, written, meant):
    """YAML 1.1 reads on/off as booleans: `--set training.compile=off` and `compile: off` in a preset were refused
    ("Input should be 'auto', 'on' or 'off' (got False)") though they are the documented values."""
    preset = tmp_preset({"data": {"train": "t.jsonl"}}, files={"t.jsonl": ROWS})
    assert load_config(str(preset), [f"training.compile={written}"]).training.compile == meant
    in_file = tmp_preset({"data": {"train": "t.jsonl"}, "training": {"compile": yaml.safe_load(written)}},
                         files={"t.jsonl": ROWS})
    assert load_config(str(in_file)).training.compile == meant


# --- validation: every problem at once, each with its key path --------------------------------


def test_preset_problems_are_all_reported_in_one_error(tmp_preset):
    preset = tmp_preset(
        {
            "model": {"nmae": "builtin"},  # unknown key
            "data": {"train": "t.jsonl"},
            "method": {"lora_dropout": 1.5},  # out of range
            "training": {"batch_size": "abc"},  # wrong type
        },
        files={"t.jsonl": ROWS},
    )
    error = config_error(str(preset))
    assert str(preset) in error.message
    assert "3 problems" in error.message
    assert "model.nmae: unknown key" in error.message
    assert "method.lora_dropout" in error.message
    assert "training.batch_size" in error.message and "'abc'" in error.message
    assert error.exit_code == ExitCode.USAGE


def test_preset_and_set_problems_are_reported_together(tmp_preset):
    preset = tmp_preset({"data": {"train": "t.jsonl"}, "training": {"epochs": -1}}, files={"t.jsonl": ROWS})
    error = config_error(str(preset), ["training.bach_size=2"])
    assert "2 problems" in error.message
    assert "training.epochs" in error.message
    assert "training.bach_size: unknown key" in error.message


def test_unknown_section_in_a_preset_is_reported(tmp_preset):
    preset = tmp_preset({"data": {"train": "t.jsonl"}, "trainer": {"epochs": 1}}, files={"t.jsonl": ROWS})
    assert "trainer: unknown key" in config_error(str(preset)).message


@pytest.mark.parametrize("preset", [{"data": {"eval": 0.1}}, {"data": {"train": None}}])
def test_missing_data_train_is_reported(tmp_preset, preset):
    error = config_error(str(tmp_preset(preset)))
    assert "data.train" in error.message


def test_missing_data_section_is_reported(tmp_preset):
    error = config_error(str(tmp_preset({"model": {"name": "builtin"}})))
    assert "data: required" in error.message


@pytest.mark.parametrize("fraction", [0.5, 0.7, 1, 0.0, -0.1])
def test_eval_fraction_out_of_range_is_rejected(tmp_preset, fraction):
    preset = tmp_preset({"data": {"train": "t.jsonl", "eval": fraction}}, files={"t.jsonl": ROWS})
    error = config_error(str(preset))
    assert "data.eval" in error.message and "between 0 and 0.5" in error.message


@pytest.mark.parametrize("fraction", [0.01, 0.1, 0.49])
def test_eval_fraction_in_range_is_accepted(tmp_preset, fraction):
    preset = tmp_preset({"data": {"train": "t.jsonl", "eval": fraction}}, files={"t.jsonl": ROWS})
    assert load_config(str(preset)).data.eval == fraction


def test_invalid_yaml_names_the_file_and_line(tmp_preset):
    preset = tmp_preset("data:\n  train: t.jsonl\n  eval: [unclosed\nmethod:\n  name: lora\n")
    error = config_error(str(preset))
    assert str(preset) in error.message and "not valid YAML" in error.message
    assert f"{preset}:" in error.message  # file:line


def test_a_preset_that_is_not_a_mapping_is_rejected(tmp_preset):
    error = config_error(str(tmp_preset("- model\n- data\n")))
    assert "mapping" in error.message


def test_prompt_tuning_with_gradient_checkpointing_is_rejected(tmp_preset):
    preset = tmp_preset({"data": {"train": "t.jsonl"}, "method": {"name": "prompt"},
                         "training": {"gradient_checkpointing": True}}, files={"t.jsonl": ROWS})
    assert "gradient_checkpointing" in config_error(str(preset)).message


# --- dump_config ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [[], ["method.lora_targets=[q,v]", "data.eval=0.2", "training.learning_rate=1e-4", "data.labels=[neg, pos]",
          "output.name=yes", "data.system_prompt=Be brief.\nReally."]],
)
def test_dump_config_round_trips(overrides):
    config = load_config("quickstart", overrides)
    text = dump_config(config)
    assert validate_config(yaml.safe_load(text)) == config
    assert list(yaml.safe_load(text)) == ["model", "data", "method", "training", "output", "ui"]


def test_dumped_config_is_itself_a_loadable_preset(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config("quickstart", ["training.epochs=1"])
    (tmp_path / "saved.yaml").write_text(dump_config(config), encoding="utf-8")
    assert load_config(str(tmp_path / "saved.yaml")) == config


def test_a_saved_preset_shows_only_its_methods_keys_and_loses_nothing_set():
    import yaml as pyyaml

    from fttui.config import dump_config, validate_config

    full = validate_config({"data": {"train": "x.jsonl"}, "method": {"name": "full"}})
    shown = pyyaml.safe_load(dump_config(full))["method"]
    assert shown == {"name": "full", "layer_lr_decay": full.method.layer_lr_decay}  # no LoRA rank, no 4-bit type
    odd = validate_config({"data": {"train": "x.jsonl"}, "method": {"name": "full", "lora_r": 32}})
    assert pyyaml.safe_load(dump_config(odd))["method"]["lora_r"] == 32  # set by the user: kept
    qlora = validate_config({"data": {"train": "x.jsonl"}, "method": {"name": "qlora"}})
    assert {"lora_r", "quant_bits", "quant_type"} <= set(pyyaml.safe_load(dump_config(qlora))["method"])
    for config in (full, odd, qlora):
        assert validate_config(pyyaml.safe_load(dump_config(config))) == config  # round trip
