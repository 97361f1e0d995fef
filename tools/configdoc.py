"""``python -m tools.configdoc [--check]``: write ``Pulumi.yaml``'s ``config:`` from the model.

The settings model (:mod:`components.settings`) is the one source of what a stack may
set: each top-level config key is documented in ``Pulumi.yaml`` with its description and
one line per nested key (camelCase, as a stack file spells it) with that field's
description, allowed values and default. ``--check`` exits 1 and names the difference
when ``Pulumi.yaml`` is out of date; ``tests/test_settings.py`` runs the same comparison.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from components.settings import PROJECT_DEFAULTS, config_fields, is_scalar_field

ROOT = Path(__file__).resolve().parent.parent
HEADER = (
    "# config: generated from the settings model (components/settings/) by\n"
    "# `python -m tools.configdoc`; edit the model's field descriptions, not this section.\n"
)
# A nested key's line: "- <path>: <text>", continued on lines indented by two spaces.
ENTRY = "- "
_WIDTH = 92


def _without_none(annotation: Any) -> Any:
    """``X | None`` -> ``X``: absence is what the field's description explains."""
    if get_origin(annotation) in (Union, types.UnionType):
        kept = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(kept) == 1:
            return kept[0]
    return annotation


def _model(annotation: Any) -> type[BaseModel] | None:
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


def _children(annotation: Any) -> tuple[str, type[BaseModel]] | None:
    """The nested model a field holds, and how its keys continue the path."""
    annotation = _without_none(annotation)
    if (model := _model(annotation)) is not None:
        return ".", model
    args = get_args(annotation)
    if get_origin(annotation) is dict and (model := _model(args[1])) is not None:
        return ".<name>.", model
    if get_origin(annotation) is list and (model := _model(args[0])) is not None:
        return "[].", model
    return None


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int) or (isinstance(value, str) and value):
        return str(value)
    return json.dumps(value, separators=(", ", ": "))


def _default(field: FieldInfo) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return " Required."
    value = field.get_default(call_default_factory=True)
    nested = isinstance(value, BaseModel) or (
        isinstance(value, dict) and any(isinstance(v, BaseModel) for v in value.values())
    )
    # None and nested models: the description or the nested keys' lines say it.
    return "" if value is None or nested else f" Default: {_value(value)}."


def _described(path: str, field: FieldInfo) -> str:
    """The field's description, with its allowed values when the type lists them."""
    if not field.description:
        raise ValueError(f"settings field {path} has no description")
    annotation = _without_none(field.annotation)
    if get_origin(annotation) is not Literal:
        return field.description
    return f"{field.description} One of: {', '.join(_value(c) for c in get_args(annotation))}."


def _wrap(text: str, first: str = "", rest: str = "") -> list[str]:
    return textwrap.wrap(
        text,
        _WIDTH,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )


def _entries(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, str]]:
    for name, field in model.model_fields.items():
        path = prefix + (field.alias or name)
        yield path, _described(path, field) + _default(field)
        nested = _children(field.annotation)
        if nested is not None:
            separator, child = nested
            yield from _entries(child, path + separator)


def _nested(key: str) -> Iterator[tuple[str, str]]:
    """Top-level ``key``'s nested keys (path below ``key``) with their text."""
    nested = _children(config_fields()[key].annotation)
    if nested is not None:
        separator, model = nested
        yield from _entries(model, separator.removeprefix("."))


def model_keys(key: str) -> list[str]:
    """The nested keys of top-level ``key`` that the model defines, in model order."""
    return [path for path, _ in _nested(key)]


def description(key: str) -> str:
    """Top-level ``key``'s description: its own text, then one line per nested key."""
    lines = _wrap(_described(key, config_fields()[key]))
    for path, text in _nested(key):
        lines += _wrap(f"{path}: {text}", ENTRY, "  ")
    return "\n".join(lines)


def project_config() -> dict[str, dict[str, Any]]:
    """``Pulumi.yaml``'s ``config:``. Object keys have no ``type``: the project schema
    types only string, integer, boolean and array."""
    config: dict[str, dict[str, Any]] = {}
    for key, field in config_fields().items():
        entry: dict[str, Any] = {"type": "string"} if is_scalar_field(field) else {}
        entry["description"] = _Block(description(key))
        if key in PROJECT_DEFAULTS:
            entry["default"] = PROJECT_DEFAULTS[key]
        config[key] = entry
    return config


def nested_keys_in(text: str) -> list[str]:
    """The nested keys a rendered description lists (its ``- <path>:`` lines)."""
    return [
        line.removeprefix(ENTRY).split(":", 1)[0]
        for line in text.splitlines()
        if line.startswith(ENTRY)
    ]


def differences(documented: dict[str, Any]) -> list[str]:
    """What ``Pulumi.yaml``'s ``config:`` documents that the model lacks, and back."""
    fields = config_fields()
    found = [f"{key}: in the model, not documented" for key in fields if key not in documented]
    found += [f"{key}: documented, not in the model" for key in documented if key not in fields]
    for key in [key for key in fields if key in documented]:
        listed = nested_keys_in(str((documented[key] or {}).get("description", "")))
        defined = model_keys(key)
        found += [
            f"{key}.{path}: in the model, not documented" for path in defined if path not in listed
        ]
        found += [
            f"{key}.{path}: documented, not in the model" for path in listed if path not in defined
        ]
    return found


class _Block(str):
    """A description: always a literal block, so every nested key keeps its own line."""

    __slots__ = ()


class _Dumper(yaml.SafeDumper):
    """Dumps :class:`_Block` descriptions as literal blocks."""


def _block(dumper: yaml.SafeDumper, value: _Block) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style="|")


_Dumper.add_representer(_Block, _block)


def render(project_text: str) -> str:
    """``Pulumi.yaml`` with its ``config:`` regenerated; everything else kept."""
    project = yaml.safe_load(project_text)
    project.pop("config", None)
    head = yaml.dump(project, Dumper=_Dumper, sort_keys=False, width=100)
    config = yaml.dump({"config": project_config()}, Dumper=_Dumper, sort_keys=False, width=100)
    return head + HEADER + config


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.configdoc", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if Pulumi.yaml is stale")
    args = parser.parse_args(argv)
    path = root / "Pulumi.yaml"
    current = path.read_text()
    generated = render(current)
    if current == generated:
        return 0
    if args.check:
        problems = differences(yaml.safe_load(current).get("config") or {})
        print(
            f"{path.name} is out of date with the settings model; run python -m tools.configdoc",
            *problems,
            sep="\n  ",
            file=sys.stderr,
        )
        return 1
    path.write_text(generated)
    print(f"wrote {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
