"""Deployed identities hold: no pinned URN disappears without an alias that moves it.

Regenerate the pins with ``venv/bin/python -m tools.urns`` when a change adds resources on
purpose; the pin files' diff is what a reviewer reads.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import STACKS
from tools.synth import Plan, PlannedResource
from tools.urns import alias_urns, compose_urn, lost_urns, read_pins, write_pins

REGION = "urn:pulumi:prod::agent-factory::agentfactory:platform:Region::prod"


@pytest.mark.parametrize("stack", STACKS)
def test_no_deployed_urn_is_lost(plan_of: Callable[[str], Plan], stack: str) -> None:
    assert lost_urns(plan_of(stack), read_pins(stack)) == []


@pytest.mark.parametrize("stack", STACKS)
def test_every_urn_is_pinned(plan_of: Callable[[str], Plan], stack: str) -> None:
    """An added resource shows up in review as a line added to tests/urns/<stack>.txt.
    What Argo CD applies is not in Pulumi's state and has no URN to keep."""
    registered = {r.urn for r in plan_of(stack).resources if not r.delivered_by}
    unpinned = registered - set(read_pins(stack))
    assert sorted(unpinned) == []


def _addon(aliases: list[dict[str, object]]) -> PlannedResource:
    parent = compose_urn("prod", "agent-factory", REGION, "agentfactory:platform:HelmAddon", "m")
    return PlannedResource(
        urn=compose_urn("prod", "agent-factory", parent, "kubernetes:helm.sh/v3:Release", "m"),
        type="kubernetes:helm.sh/v3:Release",
        name="m",
        parent=parent,
        provider="",
        custom=True,
        remote=False,
        protect=False,
        inputs={},
        dependencies=[],
        aliases=aliases,
    )


def test_a_resource_moved_under_a_new_component_keeps_its_old_urn_through_an_alias() -> None:
    old = (
        "urn:pulumi:prod::agent-factory::agentfactory:platform:Region$"
        "agentfactory:platform:Security$kubernetes:helm.sh/v3:Release::m"
    )
    security = compose_urn(
        "prod", "agent-factory", REGION, "agentfactory:platform:Security", "prod-security"
    )
    moved = _addon([{"spec": {"parentUrn": security}}])
    plan = Plan("prod", "agent-factory", [moved], {})
    assert alias_urns(plan, moved) == {old}
    assert lost_urns(plan, [old, moved.urn]) == []
    assert lost_urns(Plan("prod", "agent-factory", [_addon([])], {}), [old]) == [old]


def test_an_alias_by_urn_and_a_renamed_alias() -> None:
    resource = _addon([{"urn": "urn:pulumi:prod::agent-factory::x::old"}, {"spec": {"name": "n"}}])
    urns = alias_urns(Plan("prod", "agent-factory", [resource], {}), resource)
    assert urns == {"urn:pulumi:prod::agent-factory::x::old", resource.urn.replace("::m", "::n")}


def test_rewriting_the_pins_keeps_what_an_alias_still_reaches(
    plan_of: Callable[[str], Plan], tmp_path: Path
) -> None:
    """A stack not deployed since a rename still holds the old URN: its pin stays while an
    alias reaches it; a pin nothing reaches any more is dropped."""
    plan = plan_of("dev")
    aliased = sorted(set().union(*(alias_urns(plan, r) for r in plan.resources)))
    assert aliased, "dev has aliased resources (the add-ons moved into the registry)"
    stale = "urn:pulumi:dev::agent-factory::aws:s3/bucket:Bucket::gone"
    (tmp_path / "dev.txt").write_text(f"{aliased[0]}\n{stale}\n")
    pins = read_pins("dev", write_pins(plan, tmp_path).parent)
    assert aliased[0] in pins and stale not in pins
    assert set(pins) - {aliased[0]} == {r.urn for r in plan.resources if not r.delivered_by}
