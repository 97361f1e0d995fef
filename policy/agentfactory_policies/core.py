"""The shape of a rule and the helpers every area shares (no Pulumi imports here)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Level = Literal["advisory", "mandatory", "remediate", "disabled"]
Severity = Literal["low", "medium", "high", "critical"]


@dataclass(frozen=True)
class Resource:
    """What a rule sees of one resource: the analyzer request, unwrapped."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    provider_props: Mapping[str, Any] = field(default_factory=dict)
    protect: bool = False
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, Sequence[str]] = field(default_factory=dict)


ResourceCheck = Callable[[Resource, Mapping[str, Any]], Iterable[str]]
StackCheck = Callable[[Sequence[Resource], Mapping[str, Any]], Iterable[tuple[str, str]]]


@dataclass(frozen=True)
class Rule:
    """One policy: metadata plus a pure check.

    A resource rule yields messages for one resource; a stack rule yields (urn, message)
    pairs over all resources. ``types`` limits a resource rule to those resource types.
    """

    name: str
    description: str
    severity: Severity
    remediation: str
    area: str
    resource_check: ResourceCheck | None = None
    stack_check: StackCheck | None = None
    types: frozenset[str] | None = None
    level: Level = "mandatory"
    config_schema: Mapping[str, Any] = field(default_factory=dict)

    def defaults(self) -> dict[str, Any]:
        return {k: v["default"] for k, v in self.config_schema.items() if "default" in v}

    def applies_to(self, type_: str) -> bool:
        return self.types is None or type_ in self.types


def as_bool(value: Any) -> bool:
    """Providers take some flags as strings ("true"); inputs may arrive either way."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def get(props: Mapping[str, Any], path: str, default: Any = None) -> Any:
    current: Any = props
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return default
        current = current[part]
    return current


def as_json(value: Any) -> Any:
    """Policies and tags may arrive as JSON strings or already decoded."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]
