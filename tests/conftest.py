"""Shared fixtures: each stack is synthesized once per session (about a second each)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components.settings import WORKLOADS
from tools.stackconfig import StackConfig, available_stacks, load_stack_config
from tools.synth import ROOT, Plan, PlannedResource, synth, synth_config

STACKS = available_stacks(ROOT)
# What each stack file says, restated so a changed region or environment shows in review.
REGIONS = {
    "dev": "us-east-1",
    "staging": "us-east-1",
    "prod": "us-east-1",
    "prod-us-west-2": "us-west-2",
    "prod-eu-west-1": "eu-west-1",
}
ENVIRONMENTS = {stack: stack.split("-", 1)[0] for stack in REGIONS}
# agent-factory:services as a stack that runs no images of its own would write it: every
# workload by tag and digest (a secondary reads these from its primary's file).
SERVICES = {
    "images": {workload: {"tag": "1.0.0", "digest": "sha256:" + "0" * 64} for workload in WORKLOADS}
}


@pytest.fixture(scope="session")
def plan_of() -> Callable[[str], Plan]:
    cache: dict[str, Plan] = {}

    def get(stack: str) -> Plan:
        if stack not in cache:
            cache[stack] = synth(stack)
        return cache[stack]

    return get


def with_overrides(stack: str, **objects: Any) -> StackConfig:
    """The stack's config with some ``agent-factory:*`` values replaced."""
    base = load_stack_config(ROOT, stack)
    values = dict(base.values)
    for key, value in objects.items():
        values[f"agent-factory:{key}"] = value if isinstance(value, str) else json.dumps(value)
    return StackConfig(base.project, base.stack, values, base.secret_keys)


def synth_with(stack: str, **objects: Any) -> Plan:
    return synth_config(with_overrides(stack, **objects))


def by_name(plan: Plan, type_: str) -> dict[str, PlannedResource]:
    return {r.name: r for r in plan.by_type(type_)}


def ancestors(plan: Plan, resource: PlannedResource) -> list[str]:
    urns = {r.urn: r for r in plan.resources}
    chain: list[str] = []
    parent = resource.parent
    while parent in urns:
        chain.append(urns[parent].type)
        parent = urns[parent].parent
    return chain


def project_root() -> Path:
    return ROOT
