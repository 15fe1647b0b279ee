"""Every shipped preset validates, documents its own run command, and points at data that exists."""
from __future__ import annotations

from pathlib import Path

from fttui.config import load_config
from fttui.config.presets import find_preset
from fttui.engine.data.data_files import looks_like_path
from fttui.errors import ConfigError

PRESETS_DIR = Path(__file__).resolve().parents[2] / "presets"
PRESETS = sorted(PRESETS_DIR.glob("*.yaml"))


def test_there_are_presets_and_quickstart_is_one():
    assert "quickstart" in {path.stem for path in PRESETS}
    assert len(PRESETS) >= 2


def test_every_preset_validates():
    failures = []
    for path in PRESETS:
        try:
            config = load_config(str(path))
        except ConfigError as error:
            failures.append(f"{path.name}: {error.message}")
            continue
        for key, reference in (("data.train", config.data.train), ("data.eval", config.data.eval)):
            if isinstance(reference, str) and looks_like_path(reference) and not Path(reference).is_file():
                failures.append(f"{path.name}: {key} points at a missing file: {reference}")
    assert not failures, "invalid presets:\n" + "\n".join(failures)


def test_every_preset_is_found_by_its_name():
    failures = [path.name for path in PRESETS if not find_preset(path.stem).samefile(path)]
    assert not failures, f"not found by name: {failures}"


def test_every_preset_opens_with_a_comment_that_shows_its_run_command():
    failures = []
    for path in PRESETS:
        lines = path.read_text(encoding="utf-8").splitlines()
        if not lines or not lines[0].startswith("#"):
            failures.append(f"{path.name}: the first line is not a comment")
        commands = [line for line in lines if line.lstrip().startswith("#") and "fttui --preset" in line]
        if not commands:
            failures.append(f"{path.name}: no comment line with 'fttui --preset'")
        elif not any(path.stem in line for line in commands):
            failures.append(f"{path.name}: its 'fttui --preset' line does not name this preset")
    assert not failures, "presets that do not document themselves:\n" + "\n".join(failures)
