"""make diff: update versus replacement on seeded changes, renames, protected resources first,
and one end-to-end run through a temporary git worktree."""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tools.diff import Change, PlanDiff, changed_paths, diff_plans, review
from tools.synth import ROOT, Plan, PlannedResource

PARENT = "urn:pulumi:s::p::agentfactory:platform:DataStores::s-data"


def resource(
    type_: str, name: str, inputs: dict[str, Any], protect: bool = False, **extra: Any
) -> PlannedResource:
    qualified = f"agentfactory:platform:DataStores${type_}"
    return PlannedResource(
        urn=f"urn:pulumi:s::p::{qualified}::{name}",
        type=type_,
        name=name,
        parent=PARENT,
        provider="",
        custom=True,
        remote=False,
        protect=protect,
        inputs=inputs,
        dependencies=[],
        **extra,
    )


def plan(*resources: PlannedResource) -> Plan:
    return Plan(stack="s", project="p", resources=list(resources), outputs={})


NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
RDS = "aws:rds/instance:Instance"
BUCKET = "aws:s3/bucket:Bucket"
NODES = {
    "instanceTypes": ["m6i.xlarge"],
    "capacityType": "ON_DEMAND",
    "scalingConfig": {"desiredSize": 3, "maxSize": 5, "minSize": 3},
    "launchTemplate": {"id": "lt-1", "version": "1"},
}
POSTGRES = {"identifier": "af-postgres", "engine": "postgres", "instanceClass": "db.r6g.large"}


def only(changes: list[Change]) -> Change:
    assert len(changes) == 1, changes
    return changes[0]


def test_changed_paths_name_the_leaves() -> None:
    old = {"a": {"b": 1, "c": [1, 2]}, "d": "x", "gone": 1}
    new = {"a": {"b": 2, "c": [1, 3]}, "d": "x", "added": 1}
    assert changed_paths(old, new) == ["a.b", "a.c[1]", "added", "gone"]


def test_node_instance_type_replaces_the_node_group() -> None:
    changes, _ = diff_plans(
        plan(resource(NODE_GROUP, "workers", NODES)),
        plan(resource(NODE_GROUP, "workers", {**NODES, "instanceTypes": ["m7i.xlarge"]})),
    )
    change = only(changes)
    assert change.kind == "replace"
    assert change.replace_paths == ["instanceTypes[0]"]


def test_node_group_size_is_an_update_and_ignored_desired_size_is_no_change() -> None:
    ignore = {"ignore_changes": ["scalingConfig.desiredSize"]}
    base = plan(resource(NODE_GROUP, "workers", NODES, **ignore))
    bigger = {**NODES, "scalingConfig": {"desiredSize": 9, "maxSize": 20, "minSize": 3}}
    change = only(diff_plans(base, plan(resource(NODE_GROUP, "workers", bigger, **ignore)))[0])
    assert (change.kind, change.paths) == ("update", ["scalingConfig.maxSize"])
    busier = {**NODES, "scalingConfig": {"desiredSize": 9, "maxSize": 5, "minSize": 3}}
    assert diff_plans(base, plan(resource(NODE_GROUP, "workers", busier, **ignore)))[0] == []


def test_rds_instance_class_is_an_update_in_place() -> None:
    changes, _ = diff_plans(
        plan(resource(RDS, "postgres", POSTGRES, protect=True)),
        plan(
            resource(RDS, "postgres", {**POSTGRES, "instanceClass": "db.r6g.xlarge"}, protect=True)
        ),
    )
    change = only(changes)
    assert (change.kind, change.paths, change.replace_paths) == ("update", ["instanceClass"], [])


def test_rds_identifier_replaces_and_a_protected_replacement_comes_first() -> None:
    changes, renames = diff_plans(
        plan(resource(RDS, "postgres", POSTGRES, protect=True)),
        plan(resource(RDS, "postgres", {**POSTGRES, "identifier": "af-pg"}, protect=True)),
    )
    result = PlanDiff("s", "abc", changes, renames)
    assert [c.name for c in result.protected_replacements] == ["postgres"]
    assert only(changes).replace_paths == ["identifier"]


def test_renamed_bucket_replaces_it() -> None:
    changes, _ = diff_plans(
        plan(resource(BUCKET, "artifacts", {"bucket": "af-artifacts"}, protect=True)),
        plan(resource(BUCKET, "artifacts", {"bucket": "af-artifacts-v2"}, protect=True)),
    )
    change = only(changes)
    assert (change.kind, change.replace_paths, change.protect) == ("replace", ["bucket"], True)


def test_resource_renamed_without_alias_is_delete_and_create_flagged_as_stateful() -> None:
    inputs = {"bucket": "af-artifacts", "forceDestroy": False}
    changes, renames = diff_plans(
        plan(resource(BUCKET, "artifacts", inputs)),
        plan(resource(BUCKET, "artifact-store", inputs)),
    )
    assert sorted(c.kind for c in changes) == ["create", "delete"]
    result = PlanDiff("s", "abc", changes, renames)
    assert [(r.old, r.new, r.stateful) for r in result.flagged_renames] == [
        ("artifacts", "artifact-store", True)
    ]


def test_rename_with_an_alias_keeps_the_resource() -> None:
    inputs = {"bucket": "af-artifacts"}
    old = resource(BUCKET, "artifacts", inputs)
    aliased = resource(BUCKET, "artifact-store", inputs, aliases=[{"urn": old.urn}])
    assert diff_plans(plan(old), plan(aliased)) == ([], [])


def test_adding_vpc_options_replaces_an_opensearch_domain() -> None:
    domain = "aws:opensearch/domain:Domain"
    base = {"domainName": "logs", "clusterConfig": {"instanceCount": 3}}
    changes, _ = diff_plans(
        plan(resource(domain, "logs", base)),
        plan(resource(domain, "logs", {**base, "vpcOptions": {"subnetIds": ["subnet-1"]}})),
    )
    assert only(changes).replace_paths == ["vpcOptions"]


BUCKET_NAME_CODE = 'name = f"{project}-{stack}-{purpose}-{account_id}"'


def git_in(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def seeded_repo(tmp_path: Path) -> Path:
    """A throwaway git repository whose one commit is HEAD with three seeded changes to dev:
    the system pool's instance type, the database class and every bucket's name (in code)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, check=True, capture_output=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(repo, filter="data")
    stack_file = repo / "Pulumi.dev.yaml"
    text = stack_file.read_text()
    assert "system: {instanceTypes: [m6i.large]" in text
    assert "instanceClass: db.t4g.medium" in text
    stack_file.write_text(
        text.replace(
            "system: {instanceTypes: [m6i.large]", "system: {instanceTypes: [m6i.xlarge]"
        ).replace("instanceClass: db.t4g.medium", "instanceClass: db.r6g.large")
    )
    code = repo / "components" / "data" / "datastores.py"
    source = code.read_text()
    assert BUCKET_NAME_CODE in source
    code.write_text(source.replace(BUCKET_NAME_CODE, BUCKET_NAME_CODE.replace("}-{a", "}-v2-{a")))
    git_in(repo, "init", "--quiet")
    git_in(repo, "add", "--all")
    git_in(repo, "commit", "--quiet", "-m", "seeded")
    return repo


@pytest.mark.worktree
def test_seeded_revision_through_a_worktree(
    seeded_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plan_of: Any
) -> None:
    """make diff with the seeded commit as BASE and this tree's dev (the session's plan) as the
    working tree: one synth, of the base, in a temporary worktree. The change reviewed is the
    seeds undone: each is classified the same either way."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where review puts its worktree
    result = review("dev", "HEAD", "desired", root=seeded_repo, head=plan_of("dev"))
    by_name = {c.name: c for c in result.changes}
    # A node type is a replacement of the node group (instance_types is ForceNew).
    nodes = by_name["dev-nodes-system-on-demand"]
    assert (nodes.kind, nodes.replace_paths) == ("replace", ["instanceTypes[0]"])
    # An RDS class is an update in place.
    database = by_name["dev-data-postgres"]
    assert (database.kind, database.paths, database.replace_paths) == (
        "update",
        ["instanceClass"],
        [],
    )
    # A renamed bucket is a replacement, and so is each bucket setting keyed by its name.
    buckets = [c for c in result.changes if c.type == BUCKET]
    assert len(buckets) == 5
    assert {(c.kind, tuple(c.replace_paths)) for c in buckets} == {("replace", ("bucket",))}
    policy = by_name["dev-data-artifacts-policy"]
    assert (policy.kind, policy.replace_paths) == ("replace", ["bucket"])
    assert not [c for c in result.changes if c.kind in ("create", "delete")]
    # 2 system nodes from m6i.xlarge back to m6i.large, db.r6g.large back to db.t4g.medium.
    assert result.cost_delta == pytest.approx(-(2 * 730 * (0.192 - 0.096) + 730 * (0.225 - 0.065)))
    worktrees = subprocess.run(
        ["git", "worktree", "list"], cwd=seeded_repo, capture_output=True, text=True, check=True
    ).stdout
    assert str(scratch) not in worktrees
    assert list(scratch.iterdir()) == []
