"""helm: the in-repo charts rendered and linted with real Helm, in process, offline.

The only module that imports ``helm_python`` (helm-python-sdk, Apache-2.0: Helm's v4 Go
SDK through ctypes, no binary), so it can be swapped for another renderer in one place.
Rendering is what ``kubernetes.helm.v4.Chart`` does inside ``pulumi up``: the templates
with the chart's defaults, then the value files, then the inline values, merged in that
order; nothing contacts a cluster (``lookup`` returns nothing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python
import yaml

# libyaml's safe loader where PyYAML was built with it (the wheels are): every synth parses
# every rendered chart, and the pure-Python parser is a sixth of a synth.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Helm's lint severities (helm_python.lint's report).
_SEVERITIES = {0: "unknown", 1: "info", 2: "warning", 3: "error"}
HOOK_ANNOTATION = "helm.sh/hook"


class HelmError(RuntimeError):
    """The chart did not load, lint or render: the message names the chart and the cause."""


@dataclass(frozen=True)
class LintMessage:
    severity: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"[{self.severity}] {self.path}: {self.message}"


def read_values(path: Path) -> dict[str, Any]:
    """One values file, which must be a mapping (an empty file is no values)."""
    loaded = yaml.load(path.read_text(), Loader=SAFE_LOADER) or {}
    if not isinstance(loaded, dict):
        raise HelmError(f"{path}: values must be a mapping, not {type(loaded).__name__}")
    return loaded


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's coalescing of value layers: maps merge key by key, anything else replaces, and
    a null in ``override`` removes the key."""
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def layered(value_files: Sequence[Path], values: Mapping[str, Any]) -> dict[str, Any]:
    """The values a release gets: each file in order, then the inline values on top."""
    result: dict[str, Any] = {}
    for path in value_files:
        result = merge(result, read_values(path))
    return merge(result, values)


def lint(chart_dir: Path, values: Mapping[str, Any] | None = None) -> list[LintMessage]:
    """``helm lint --strict`` of the chart with ``values``: the findings, warnings and errors
    only (info such as "icon is recommended" is left out)."""
    try:
        report = helm_python.lint(chart_dir, dict(values or {}), strict=True)
    except helm_python.HelmError as exc:
        raise HelmError(f"{chart_dir.name}: {exc}") from None
    messages = [
        LintMessage(_SEVERITIES.get(m["severity"], "unknown"), m["path"], m["error"])
        for m in report.get("messages", [])
        if m["severity"] >= 2 or m["severity"] == 0
    ]
    messages.extend(LintMessage("error", chart_dir.name, error) for error in report["errors"])
    return messages


def render(
    chart_dir: Path, values: Mapping[str, Any], *, release: str, namespace: str
) -> list[dict[str, Any]]:
    """The objects the chart renders for ``release`` in ``namespace``, in template order.

    Hooks are refused: ``helm.v4.Chart`` leaves them out of what it deploys, so a hook in
    a chart deployed that way would silently never run.
    """
    try:
        chart = helm_python.Chart.load(chart_dir)
        with chart:
            chart.validate_schema(dict(values))
            manifests = chart.render(dict(values), name=release, namespace=namespace)
    except helm_python.HelmError as exc:
        raise HelmError(f"{chart_dir.name}: {exc}") from None
    objects: list[dict[str, Any]] = []
    for template in sorted(manifests):
        if not template.endswith((".yaml", ".yml")):
            continue  # NOTES.txt and helpers render text, not objects
        for document in yaml.load_all(manifests[template], Loader=SAFE_LOADER):
            if not document:
                continue
            if not isinstance(document, dict) or "kind" not in document:
                raise HelmError(f"{template}: renders something that is not an object")
            annotations = (document.get("metadata") or {}).get("annotations") or {}
            if HOOK_ANNOTATION in annotations:
                raise HelmError(
                    f"{template}: {document['kind']} is a Helm hook, which helm.v4.Chart "
                    "leaves out of a deployment"
                )
            objects.append(document)
    return objects
