"""YAML presets and ``--set a.b=c`` overrides, validated into a ``RunConfig`` with every error at once.

Relative data paths in a preset are resolved against the preset's own folder (so a shipped preset
finds its shipped data wherever it is installed); paths given with ``--set`` against the current folder.
"""
from __future__ import annotations

import difflib
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from fttui.config.safe_yaml import RefusedYAML, excerpt, loads, short_repr
from fttui.config.schema import RunConfig
from fttui.errors import ConfigError

PRESETS_PACKAGE = "fttui.presets"
MAX_PROBLEMS = 20
PATH_FIELDS = (("data", "train"), ("data", "eval"), ("model", "name"), ("training", "deepspeed_config"))


def presets_dir() -> Path:
    """Folder of the presets shipped with fttui (``presets/`` in the repository)."""
    import importlib.util

    spec = importlib.util.find_spec(PRESETS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return Path(__file__).resolve().parents[2] / "presets"
    return Path(list(spec.submodule_search_locations)[0])


def list_presets() -> list[Path]:
    return sorted(presets_dir().glob("*.yaml"))


def find_preset(reference: str) -> Path:
    """A preset path as given, or the name of a shipped preset (``quickstart``)."""
    path = Path(reference).expanduser()
    if path.is_file():
        return path
    shipped = presets_dir() / (reference if reference.endswith(".yaml") else f"{reference}.yaml")
    if "/" not in reference and shipped.is_file():
        return shipped
    names = ", ".join(p.stem for p in list_presets()) or "none"
    raise ConfigError(
        f"preset not found: {reference}",
        f"give the path of a YAML file, or the name of a shipped preset ({names})",
    )


def read_yaml(path: Path) -> dict:
    """A preset or run config as a mapping; bad or hostile YAML is a ConfigError naming file and line."""
    try:
        data = loads(path.read_text(encoding="utf-8"))
    except RefusedYAML as exc:
        where = f"{path}:{exc.problem_mark.line + 1}" if exc.problem_mark else str(path)
        raise ConfigError(f"{where}: {exc.problem}", exc.hint) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML ({excerpt(str(getattr(exc, 'problem', exc)))})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})", "save the file as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"cannot read preset {path}: {exc.strerror}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a preset must be a mapping of sections (model:, data:, method:, ...)")
    return data


def _field_annotation(path: list[str]) -> Any:
    """The schema type at a dotted path, or raise ConfigError naming the unknown key."""
    model: type[BaseModel] = RunConfig
    annotation: Any = None
    for depth, key in enumerate(path):
        fields = model.model_fields
        if key not in fields:
            where = excerpt(".".join(path[: depth + 1]))
            close = difflib.get_close_matches(key, fields.keys(), n=1)
            hint = (f"did you mean {'.'.join([*path[:depth], close[0]])}?" if close
                    else f"valid keys: {', '.join(fields)}")
            raise ConfigError(f"{where}: unknown key", hint)
        annotation = fields[key].annotation
        if depth < len(path) - 1:
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                raise ConfigError(f"{'.'.join(path[: depth + 1])} is a value, not a section")
            model = annotation
    return annotation


def _is_plain_string(annotation: Any) -> bool:
    """True for ``str`` and ``str | None``: such values are taken verbatim, never YAML-typed."""
    if annotation is str:
        return True
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return set(typing.get_args(annotation)) <= {str, type(None)}
    return False


def apply_overrides(raw: dict, overrides: list[str], problems: list[str] | None = None) -> dict:
    """Apply ``section.key=value`` overrides; values are typed by the schema (YAML syntax for lists).

    Bad overrides are appended to ``problems`` when a list is given (so all errors show at once),
    else the first one raises.
    """
    result = {key: dict(value) if isinstance(value, dict) else value for key, value in raw.items()}
    for item in overrides:
        try:
            path, value = _parse_override(item)
        except ConfigError as error:
            if problems is None:
                raise
            problems.append(error.message + (f" ({error.hint})" if error.hint else ""))
            continue
        section = result.setdefault(path[0], {})
        if not isinstance(section, dict):
            section = result[path[0]] = {}
        section[path[1]] = value
    return result


def _parse_override(item: str) -> tuple[list[str], Any]:
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {excerpt(item)!r}: expected section.key=value", "e.g. --set training.epochs=2")
    path = key.strip().split(".")
    if len(path) != 2:
        raise ConfigError(f"--set {excerpt(key)}: use section.key (e.g. training.batch_size)")
    annotation = _field_annotation(path)
    if _is_plain_string(annotation):
        optional = annotation is not str
        return path, None if optional and text.strip() in ("null", "~", "") else text
    try:
        return path, loads(text) if text.strip() else None
    except RefusedYAML as exc:
        raise ConfigError(f"--set {'.'.join(path)}: {exc.problem}", exc.hint) from None
    except yaml.YAMLError:
        return path, text


def _did_you_mean(loc: tuple) -> str:
    """`` (did you mean training.epochs?)`` for a near-miss of a real key, else nothing."""
    import difflib

    from fttui.config.schema import RunConfig

    if len(loc) == 1:
        known = list(RunConfig.model_fields)
    elif len(loc) == 2 and loc[0] in RunConfig.model_fields:
        known = list(RunConfig.model_fields[loc[0]].annotation.model_fields)
    else:
        return ""
    close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
    return f" (did you mean {'.'.join([*map(str, loc[:-1]), close[0]])}?)" if close else ""


RANGE_ERRORS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number")
BOUND_WORDS = (("gt", "greater than"), ("ge", "at least"), ("lt", "less than"), ("le", "at most"))


def _allowed_range(loc: tuple) -> str:
    """``greater than 0 and at most 1000`` from the field's own bounds: pydantic's message names only one side."""
    model: Any = RunConfig
    field = None
    for part in loc:
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            break
        field = fields[part]
        model = field.annotation
    bounds = [f"{words} {getattr(m, attr)}" for m in (field.metadata if field else [])
              for attr, words in BOUND_WORDS if getattr(m, attr, None) is not None]
    return " and ".join(bounds)


def _validation_lines(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors():
        loc = excerpt(".".join(str(part) for part in err["loc"])) or "(top level)"
        if err["type"] == "extra_forbidden":
            lines.append(f"{loc}: unknown key{_did_you_mean(err['loc'])}")
        elif err["type"] == "missing":
            lines.append(f"{loc}: required, but not given")
        else:
            got = err.get("input")  # a short excerpt only: the value may be megabytes (or an alias bomb)
            shown = "" if isinstance(got, dict) or got is None else f" (got {short_repr(got)})"
            message = excerpt(err["msg"].removeprefix("Value error, "), 300)
            allowed = _allowed_range(err["loc"]) if err["type"] in RANGE_ERRORS else ""
            if allowed:
                message = f"must be {'a finite number, ' if err['type'] == 'finite_number' else ''}{allowed}"
            lines.append(f"{loc}: {message}{shown}")
    return lines


def _problems_error(lines: list[str], source: str) -> ConfigError:
    count = len(lines)
    if count > MAX_PROBLEMS:  # a list of 10,000 bad items needs its first lines, not a screenful per item
        lines = [*lines[:MAX_PROBLEMS], f"... and {count - MAX_PROBLEMS} more"]
    summary = f"{source}: {count} problem{'s' if count != 1 else ''} in the configuration:\n  " + "\n  ".join(lines)
    return ConfigError(summary, "fix the keys above in the preset or with --set section.key=value")


def _resolve_paths(raw: dict, base: Path) -> dict:
    """Make relative file paths in a preset absolute when they exist next to the preset."""
    for section, key in PATH_FIELDS:
        value = raw.get(section, {}).get(key) if isinstance(raw.get(section), dict) else None
        if isinstance(value, str) and value and not Path(value).is_absolute():
            candidate = (base / value).resolve()
            if candidate.exists():
                raw[section][key] = str(candidate)
    return raw


def validate_config(raw: dict, source: str = "config", problems: list[str] | None = None) -> RunConfig:
    """Validate a raw mapping; raise one ConfigError listing every problem with its key path."""
    problems = list(problems or [])
    try:
        config = RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise _problems_error(problems + _validation_lines(exc), source) from None
    if problems:
        raise _problems_error(problems, source)
    return config


def load_config(preset: str | None, overrides: list[str] | None = None, base: dict | None = None) -> RunConfig:
    """Preset (path or shipped name) + overrides -> validated RunConfig."""
    raw: dict = dict(base or {})
    source = "overrides"
    if preset:
        path = find_preset(preset)
        raw = _resolve_paths(read_yaml(path), path.resolve().parent)
        source = str(path)
        raw.setdefault("output", {})
        if isinstance(raw["output"], dict):
            raw["output"].setdefault("name", path.stem)
    problems: list[str] = []
    raw = apply_overrides(raw, overrides or [], problems)
    return validate_config(raw, source, problems)


def dump_config(config: RunConfig) -> str:
    """The resolved config as YAML, sections in schema order, ready to be saved as a preset.

    Another method's keys left at their defaults are left out (a full fine-tune's preset shows no LoRA rank);
    any key set to something else is kept, so nothing a user wrote is lost.
    """
    from fttui.config.methods import spec
    from fttui.config.schema import MethodSection

    data = config.model_dump(mode="json")
    mine = {"name", *spec(config.method.name).fields}
    defaults = MethodSection(name=config.method.name).model_dump(mode="json")
    data["method"] = {key: value for key, value in data["method"].items()
                      if key in mine or value != defaults.get(key)}
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
