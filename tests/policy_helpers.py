"""Building blocks for the policy tests: resources, plans and verdicts over gRPC."""

from __future__ import annotations

import copy
import json
import sys
from typing import Any

from tools.gate import POLICY_DIR, UNKNOWN_INPUT, Violation, analyze_plan
from tools.synth import Plan, PlannedResource

sys.path.insert(0, str(POLICY_DIR))

UNKNOWN = UNKNOWN_INPUT
PROVIDER_URN = "urn:pulumi:test::agent-factory::pulumi:providers:aws::aws"
TAGS = {
    "Project": "agent-factory",
    "Environment": "prod",
    "Team": "platform-sre",
    "CostCenter": "agent-factory",
    "ManagedBy": "pulumi",
    "Stack": "test",
}
K8S_LABELS = {
    "app.kubernetes.io/name": "api",
    "app.kubernetes.io/part-of": "agent-factory",
    "app.kubernetes.io/managed-by": "pulumi",
}
# Test plans hold a handful of resources, not a stack: the presence rules would flag every
# one of them, so they are told another stack holds the trail and the detector.
PRESENCE = {
    "cloudtrail-present": {"providedBy": "elsewhere"},
    "guardduty-eks-protection": {"providedBy": "elsewhere"},
    # Off in the pack until the platform's service accounts declare their tokens; tested
    # at the level it will have.
    "k8s-sa-token-declared": "mandatory",
}


def provider(default_tags: dict[str, str] | None = None) -> PlannedResource:
    inputs: dict[str, Any] = {"region": "us-east-1"}
    if default_tags is not None:
        inputs["defaultTags"] = json.dumps({"tags": default_tags})
    return PlannedResource(
        urn=PROVIDER_URN,
        type="pulumi:providers:aws",
        name="aws",
        parent="",
        provider="",
        custom=True,
        remote=False,
        protect=False,
        inputs=inputs,
        dependencies=[],
    )


def resource(
    type_: str,
    inputs: dict[str, Any],
    *,
    name: str = "subject",
    protect: bool = False,
    dependencies: list[str] | None = None,
    property_dependencies: dict[str, list[str]] | None = None,
) -> PlannedResource:
    urn = f"urn:pulumi:test::agent-factory::{type_}::{name}"
    deps = property_dependencies or {}
    return PlannedResource(
        urn=urn,
        type=type_,
        name=name,
        parent="",
        provider=f"{PROVIDER_URN}::id" if type_.startswith("aws:") else "",
        custom=True,
        remote=type_.startswith("eks:"),
        protect=protect,
        inputs=inputs,
        dependencies=sorted(set(dependencies or []) | {u for us in deps.values() for u in us}),
        providers={"aws": f"{PROVIDER_URN}::id"} if type_.startswith("eks:") else {},
        property_dependencies=deps,
    )


def verdicts(
    stub: Any,
    resources: list[PlannedResource],
    config: dict[str, Any] | None = None,
    tags: dict[str, str] | None = TAGS,
) -> list[Violation]:
    plan = Plan("test", "agent-factory", [provider(tags), *resources], {})
    return analyze_plan(stub, plan, {**PRESENCE, **(config or {})}).violations


def violations(
    stub: Any,
    resources: list[PlannedResource],
    config: dict[str, Any] | None = None,
    tags: dict[str, str] | None = TAGS,
) -> dict[str, list[str]]:
    """Rule -> messages of the real (decided) violations."""
    found: dict[str, list[str]] = {}
    for violation in verdicts(stub, resources, config, tags):
        if not violation.undecided:
            found.setdefault(violation.rule, []).append(violation.message)
    return found


def mandatory(stub: Any, resources: list[PlannedResource], **kwargs: Any) -> set[str]:
    return {v.rule for v in verdicts(stub, resources, **kwargs) if v.level == "mandatory"}


def undecided(stub: Any, resources: list[PlannedResource], **kwargs: Any) -> set[str]:
    return {
        v.rule for v in verdicts(stub, resources, **kwargs) if v.undecided and v.level == "advisory"
    }


def with_value(inputs: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``inputs`` with ``a.b.0.c`` set to ``value``."""
    result = copy.deepcopy(inputs)
    current: Any = result
    parts = path.split(".")
    for part in parts[:-1]:
        current = current[int(part)] if isinstance(current, list) else current.setdefault(part, {})
    last = parts[-1]
    if isinstance(current, list):
        current[int(last)] = value
    else:
        current[last] = value
    return result
