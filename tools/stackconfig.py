"""Read a stack's configuration the way the Pulumi CLI would: project defaults + stack file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.settings import Settings, load_settings

SECRET_PLACEHOLDER = "[secret]"


class StackConfigError(ValueError):
    """The stack does not exist or its files cannot be read."""


@dataclass(frozen=True)
class StackConfig:
    project: str
    stack: str
    # Fully qualified keys ("agent-factory:network", "aws:region") -> value as Pulumi
    # hands it to a program: strings, with objects and lists JSON-encoded.
    values: dict[str, str]
    secret_keys: tuple[str, ...]

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def project_values(self) -> dict[str, str]:
        """The project's own keys without their namespace, as the settings model takes them."""
        prefix = f"{self.project}:"
        return {k.removeprefix(prefix): v for k, v in self.values.items() if k.startswith(prefix)}


def available_stacks(root: Path) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def _encode(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value)


def _qualify(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


class _StrictLoader(yaml.SafeLoader):
    """YAML as Pulumi reads stack files, but a key given twice is an error, not a silent
    last-one-wins."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                line = key_node.start_mark.line + 1
                raise StackConfigError(f"line {line}: key {key!r} given twice")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        # _StrictLoader is a SafeLoader: no arbitrary object construction.
        document = yaml.load(path.read_text(), Loader=_StrictLoader)
    except StackConfigError as exc:
        raise StackConfigError(f"{path.name}: {exc}") from None
    except yaml.YAMLError as exc:
        raise StackConfigError(
            f"{path.name}: cannot parse YAML: {exc}".replace("\n", " ")
        ) from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise StackConfigError(f"{path.name}: must be a mapping, got {type(document).__name__}")
    return document


def _config_section(path: Path, document: dict[str, Any]) -> dict[str, Any]:
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise StackConfigError(f"{path.name}: config must be a mapping of key to value")
    for key in config:
        if not isinstance(key, str):
            raise StackConfigError(f"{path.name}: config key {key!r} must be a string")
    return config


def load_stack_config(root: Path, stack: str) -> StackConfig:
    project_file = root / "Pulumi.yaml"
    stack_file = root / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        known = ", ".join(available_stacks(root)) or "none"
        raise StackConfigError(f"unknown stack '{stack}' (known stacks: {known})")
    project_doc = _read_yaml(project_file)
    stack_doc = _read_yaml(stack_file)
    project = project_doc["name"]

    values: dict[str, str] = {}
    for key, schema in _config_section(project_file, project_doc).items():
        if isinstance(schema, dict) and "default" in schema:
            values[_qualify(project, key)] = _encode(schema["default"])
        elif not isinstance(schema, dict):
            values[_qualify(project, key)] = _encode(schema)

    secret_keys: list[str] = []
    for key, value in _config_section(stack_file, stack_doc).items():
        full_key = _qualify(project, key)
        plain, secret = _without_ciphertext(value)
        values[full_key] = _encode(plain)
        if secret:
            # Pulumi makes the whole key secret when any part of it is.
            secret_keys.append(full_key)
    return StackConfig(project, stack, values, tuple(secret_keys))


def _without_ciphertext(value: Any) -> tuple[Any, bool]:
    """``{secure: <ciphertext>}`` anywhere in a value (``pulumi config set --secret
    [--path]``) becomes the placeholder: decrypting needs the stack's secrets provider, and
    the offline preview only needs to know the value is set."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET_PLACEHOLDER, True
        items = {k: _without_ciphertext(v) for k, v in value.items()}
        return {k: v for k, (v, _) in items.items()}, any(s for _, s in items.values())
    if isinstance(value, list):
        entries = [_without_ciphertext(v) for v in value]
        return [v for v, _ in entries], any(s for _, s in entries)
    return value, False


def stack_settings(root: Path, stack: str) -> Settings:
    """The validated settings of ``Pulumi.<stack>.yaml``, as the program would build them."""
    config = load_stack_config(root, stack)
    return load_settings(stack, config.get("aws:region"), config.project_values(), stack_dir=root)
