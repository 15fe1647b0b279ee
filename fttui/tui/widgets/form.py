"""A form rendered from a config section's schema: labels and help come from each Field's description.

Values are typed the way ``--set`` types them (YAML scalars, comma lists) and validated by the section's
pydantic model, so the wizard accepts exactly what a preset accepts; errors show inline under the field.
"""
from __future__ import annotations

import types
import typing
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ValidationError
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Select, Static

from fttui.config.safe_yaml import loads

NO_VALUE = ""


def _args(annotation) -> tuple:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return typing.get_args(annotation)
    return (annotation,)


def _literal_choices(annotation) -> tuple | None:
    for arg in _args(annotation):
        if typing.get_origin(arg) is Literal:
            return typing.get_args(arg)
    return None


def _is_bool(annotation) -> bool:
    return bool in _args(annotation)


def _is_list(annotation) -> bool:
    return any(typing.get_origin(arg) is list for arg in _args(annotation))


def _is_plain_string(annotation) -> bool:
    return set(_args(annotation)) <= {str, type(None)}


def display(value: Any) -> str:
    if value is None:
        return NO_VALUE
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def parse(text: str, annotation) -> Any:
    """Typed like ``--set``: empty -> None, comma lists for list fields, YAML scalars for numbers."""
    text = text.strip()
    if not text or text.lower() in ("none", "null", "~"):
        return None
    if _is_plain_string(annotation):
        return text
    if _is_list(annotation) and not text.startswith("["):
        return [part.strip() for part in text.split(",") if part.strip()]
    try:
        return loads(text)
    except yaml.YAMLError:  # RefusedYAML too: the text then fails validation as a plain string
        return text


class SchemaForm(Vertical):
    """One row per field: name, control, one line of help (the schema description), an inline error."""

    def __init__(self, section: type[BaseModel], fields: list[str], values: dict, prefix: str, **kwargs):
        super().__init__(**kwargs)
        self.section = section
        self.fields = fields
        self.values = dict(values)
        self.prefix = prefix
        self.shown: dict[str, str] = {}  # errors on screen now, so unchanged ones are not re-rendered
        self.add_class("schema-form")

    def control_id(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def compose(self) -> ComposeResult:
        for name in self.fields:
            info = self.section.model_fields[name]
            with Vertical(classes="field", id=f"row-{self.control_id(name)}"):
                with Horizontal(classes="field-line"):
                    yield Label(name.replace("_", " "), classes="field-name")
                    yield self._control(name, info)
                yield Static(info.description or "", classes="field-help")
                yield Static("", classes="field-error", id=f"error-{self.control_id(name)}")
        yield Static("", classes="form-error", id=f"error-{self.prefix}")

    def _control(self, name: str, info):
        value = self.values.get(name, info.default)
        choices = _literal_choices(info.annotation)
        if choices is not None or _is_bool(info.annotation):
            options = [(str(c), c) for c in choices or ()]
            if _is_bool(info.annotation):  # bool, or a bool that may also be "auto"
                options += [("on", True), ("off", False)]
            if type(None) in _args(info.annotation):
                options.insert(0, ("(default)", None))
            current = value if any(v == value for _, v in options) else options[0][1]
            return Select(options, value=current, allow_blank=False, compact=True, id=self.control_id(name),
                          classes="field-control")
        placeholder = "default" if info.default is None and not info.is_required() else ""
        return Input(display(value), placeholder=placeholder, compact=True, id=self.control_id(name),
                     classes="field-control", select_on_focus=False)

    def raw_values(self) -> dict:
        """What the controls hold now, typed but not yet validated."""
        result = {}
        for name in self.fields:
            control = self.query_one(f"#{self.control_id(name)}")
            if isinstance(control, Select):
                result[name] = control.value
            else:
                result[name] = parse(control.value, self.section.model_fields[name].annotation)
        return result

    def set_value(self, name: str, value: Any) -> None:
        control = self.query_one(f"#{self.control_id(name)}")
        if isinstance(control, Select):
            control.value = value
        else:
            control.value = display(value)

    def show_errors(self, errors: dict[str, str], general: str = "") -> None:
        for name in self.fields:
            message = errors.get(name, "")
            if self.shown.get(name, "") == message:
                continue
            self.shown[name] = message
            error = self.query_one(f"#error-{self.control_id(name)}", Static)
            error.update(message)
            error.set_class(bool(message), "visible")
            self.query_one(f"#row-{self.control_id(name)}").set_class(bool(message), "invalid")
        if self.shown.get("", "") == general:
            return
        self.shown[""] = general
        form_error = self.query_one(f"#error-{self.prefix}", Static)
        form_error.update(general)
        form_error.set_class(bool(general), "visible")

    def validate(self, base: dict | None = None, extra_errors: dict[str, str] | None = None) -> BaseModel | None:
        """The section with the form's values over ``base``, or None after showing every error inline."""
        errors: dict[str, str] = dict(extra_errors or {})
        general: list[str] = []
        result = None
        values = self.raw_values()
        try:
            result = self.section.model_validate({**(base or {}), **values})
        except ValidationError as exc:
            for err in exc.errors():
                field = str(err["loc"][0]) if err["loc"] else ""
                message = err["msg"].removeprefix("Value error, ")
                if field in values and values[field] is None:
                    message = "required: give a value"
                if field in self.fields:
                    errors.setdefault(field, message)
                else:
                    general.append(f"{field or 'form'}: {message}")
        self.show_errors(errors, "\n".join(general))
        return None if errors or general else result
