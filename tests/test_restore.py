"""tools/restore.py: the restore commands name exactly what the stack's plan deploys."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tools import restore
from tools.restore import RestoreError, Sub
from tools.synth import Plan, PlannedResource

NOW = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)


def only(plan: Plan, type_: str, name: str) -> PlannedResource:
    (resource,) = [r for r in plan.by_type(type_) if r.name == name]
    return resource


def state(plan: Plan, resource: PlannedResource) -> dict[str, object]:
    return plan.states[resource.urn]


def run(plan_of: Callable[[str], Plan], *argv: str) -> int:
    return restore.main(list(argv), load_plan=plan_of, now=NOW)


# -- rds-pitr -------------------------------------------------------------------------


def test_rds_pitr_restores_prods_writer_as_planned(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    writer = only(plan, restore.RDS_INSTANCE, "prod-data-postgres")
    subnets = only(plan, "aws:rds/subnetGroup:SubnetGroup", "prod-data-postgres-subnets")
    params = only(plan, "aws:rds/parameterGroup:ParameterGroup", "prod-data-postgres-params")
    security_group = only(plan, "aws:ec2/securityGroup:SecurityGroup", "prod-data-postgres-sg")
    procedure = restore.rds_pitr(plan, NOW - timedelta(hours=3), now=NOW)

    (command,) = [c for c in procedure.commands if "restore-db-instance-to-point-in-time" in c.argv]
    argv = list(command.argv)

    def value(flag: str) -> object:
        return argv[argv.index(flag) + 1]

    assert value("--source-db-instance-identifier") == "agent-factory-prod-postgres"
    assert writer.inputs["identifier"] == "agent-factory-prod-postgres"
    assert (
        value("--target-db-instance-identifier") == "agent-factory-prod-postgres-pitr-202506100900"
    )
    assert value("--restore-time") == "2025-06-10T09:00:00Z"
    assert value("--db-instance-class") == writer.inputs["instanceClass"] == "db.r6g.2xlarge"
    # The subnet and parameter groups are the auto-named resources the writer is wired to.
    assert value("--db-subnet-group-name") == writer.inputs["dbSubnetGroupName"]
    assert value("--db-subnet-group-name") == state(plan, subnets)["name"]
    assert value("--db-parameter-group-name") == writer.inputs["parameterGroupName"]
    assert value("--db-parameter-group-name") == state(plan, params)["name"]
    assert value("--vpc-security-group-ids") == plan.states[security_group.urn].get(
        "id", writer.inputs["vpcSecurityGroupIds"][0]
    )
    assert value("--vpc-security-group-ids") == writer.inputs["vpcSecurityGroupIds"][0]
    for flag in (
        "--multi-az",
        "--enable-iam-database-authentication",
        "--deletion-protection",
        "--copy-tags-to-snapshot",
        "--no-publicly-accessible",
    ):
        assert flag in argv
    # The API takes no key for this restore: the data key is inherited and verified.
    kms_key = writer.inputs["kmsKeyId"]
    assert kms_key == plan.outputs["keyArns"]["data"]
    restore_step = next(s for s in procedure.steps if s.command is command)
    assert restore_step.run
    assert kms_key in restore_step.detail
    verify = next(s for s in procedure.steps if s.title == "Verify")
    assert kms_key in verify.detail and not verify.run
    assert "--performance-insights-kms-key-id" in procedure.text()
    # The cut-over steps are printed for the operator, never run.
    assert all(not s.run for s in procedure.steps if "Cut over" in s.title)
    assert "dbSubnetGroupName" not in procedure.text()


def test_rds_pitr_window_comes_from_the_plans_retention(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    retention = int(
        only(plan, restore.RDS_INSTANCE, "prod-data-postgres").inputs["backupRetentionPeriod"]
    )
    assert retention == 30
    with pytest.raises(RestoreError, match=r"^--to .*older than the 30-day backup retention"):
        restore.rds_pitr(plan, NOW - timedelta(days=retention, minutes=1), now=NOW)
    with pytest.raises(RestoreError, match=r"^--to .*in the future"):
        restore.rds_pitr(plan, NOW + timedelta(minutes=1), now=NOW)
    restore.rds_pitr(plan, NOW - timedelta(days=retention - 1), now=NOW)
    # dev keeps 7 days (Pulumi.dev.yaml).
    with pytest.raises(RestoreError, match="7-day"):
        restore.rds_pitr(plan_of("dev"), NOW - timedelta(days=8), now=NOW)


def test_rds_pitr_in_a_secondary_uses_the_backup_copy(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod-us-west-2")
    procedure = restore.rds_pitr(plan, NOW - timedelta(days=2), now=NOW)
    (command,) = [c for c in procedure.commands if "restore-db-instance-to-point-in-time" in c.argv]
    arn = command.argv[command.argv.index("--source-db-instance-automated-backups-arn") + 1]
    assert isinstance(arn, Sub)
    assert "arn:aws:rds:us-east-1:123456789012:db:agent-factory-prod-postgres" in arn.command
    assert command.argv[command.argv.index("--region") + 1] == "us-west-2"
    # prod-eu-west-1 keeps no copy of prod's backups.
    with pytest.raises(RestoreError, match="no copy of its backups"):
        restore.rds_pitr(plan_of("prod-eu-west-1"), NOW - timedelta(days=2), now=NOW)


def test_rds_pitr_from_outputs_overrides_the_mock_values(
    plan_of: Callable[[str], Plan], tmp_path: Path
) -> None:
    outputs = tmp_path / "outputs.json"
    key = "arn:aws:kms:us-east-1:210987654321:key/11111111-2222-3333-4444-555555555555"
    outputs.write_text(
        json.dumps(
            {
                "region": "us-east-1",
                "postgresInstanceArn": (
                    "arn:aws:rds:us-east-1:210987654321:db:agent-factory-prod-postgres"
                ),
                "keyArns": {"data": key, "secrets": key},
            }
        )
    )
    deployed = restore.Deployed.load(outputs, None)
    procedure = restore.rds_pitr(
        plan_of("prod"), NOW - timedelta(hours=1), now=NOW, deployed=deployed
    )
    assert key in procedure.text()
    assert "df5dd110" not in procedure.text()  # the mock's data key
    assert not any("KMS key arn:" in note for note in procedure.notes)
    assert any("subnet group" in note for note in procedure.notes)
    wrong = tmp_path / "west.json"
    wrong.write_text(json.dumps({"region": "us-west-2"}))
    with pytest.raises(RestoreError, match=r"^--from-outputs: region us-west-2"):
        restore.rds_pitr(plan_of("prod"), NOW, now=NOW, deployed=restore.Deployed.load(wrong, None))


def test_rds_pitr_from_state_takes_every_deployed_name(
    plan_of: Callable[[str], Plan], tmp_path: Path
) -> None:
    plan = plan_of("prod")
    writer = only(plan, restore.RDS_INSTANCE, "prod-data-postgres")
    export = {
        "version": 3,
        "deployment": {
            "resources": [
                {
                    "urn": writer.urn,
                    "outputs": {
                        "dbSubnetGroupName": "prod-data-postgres-subnets-1a2b3c4",
                        "vpcSecurityGroupIds": ["sg-0123456789abcdef0"],
                        "parameterGroupName": "prod-data-postgres-params-5d6e7f8",
                        "kmsKeyId": "arn:aws:kms:us-east-1:210987654321:key/abc",
                        "monitoringRoleArn": "arn:aws:iam::210987654321:role/monitoring",
                        "password": {restore._SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270"},
                    },
                }
            ]
        },
    }
    path = tmp_path / "state.json"
    path.write_text(json.dumps(export))
    procedure = restore.rds_pitr(plan, NOW, now=NOW, deployed=restore.Deployed.load(None, path))
    text = procedure.text()
    for value in ("prod-data-postgres-subnets-1a2b3c4", "sg-0123456789abcdef0", "5d6e7f8"):
        assert value in text
    assert procedure.notes == ()


# -- redis-snapshot --------------------------------------------------------------------


def test_redis_restore_carries_the_plans_cache_shape(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    group = only(plan, restore.CACHE_GROUP, "prod-data-cache")
    procedure = restore.redis_snapshot(plan, "nightly-2025-06-09", now=NOW)
    (command,) = [c for c in procedure.commands if "create-replication-group" in c.argv]
    argv = list(command.argv)

    def value(flag: str) -> object:
        return argv[argv.index(flag) + 1]

    assert value("--cache-node-type") == group.inputs["nodeType"] == "cache.r7g.large"
    assert value("--num-node-groups") == str(int(group.inputs["numNodeGroups"])) == "3"
    assert value("--replicas-per-node-group") == "1"
    assert value("--snapshot-name") == "nightly-2025-06-09"
    assert value("--cache-subnet-group-name") == group.inputs["subnetGroupName"]
    assert value("--security-group-ids") == group.inputs["securityGroupIds"][0]
    assert value("--kms-key-id") == group.inputs["kmsKeyId"]
    assert value("--transit-encryption-mode") == "required"
    assert "--at-rest-encryption-enabled" in argv and "--transit-encryption-enabled" in argv
    assert value("--replication-group-id") == "agent-factory-prod-cache-r2506101200"
    # The token is a substitution from its Secrets Manager secret, never a literal.
    token = value("--auth-token")
    assert isinstance(token, Sub)
    assert "secretsmanager get-secret-value" in token.command
    assert "agent-factory-prod/cache/auth-token" in token.command
    secret = plan.states[only(plan, restore.SECRET, "prod-data-cache-auth").urn]
    assert secret["id"] == "agent-factory-prod/cache/auth-token"
    mock_token = next(
        str(s["result"])
        for s in plan.states.values()
        if str(s.get("result", "")).startswith("offline")
    )
    assert mock_token not in procedure.text()
    assert '--auth-token "$(aws secretsmanager' in command.render()
    # Executing assigns it in bash first, so a failed read stops the script.
    assert command.script().startswith('set -euo pipefail\nrestore_value_1="$(aws')


def test_redis_in_place_deletes_first_and_dev_shape(plan_of: Callable[[str], Plan]) -> None:
    in_place = restore.redis_snapshot(
        plan_of("prod"), "s1", target_id="agent-factory-prod-cache", now=NOW
    )
    titles = [s.title for s in in_place.steps if s.run]
    assert titles[1].startswith("Delete the damaged agent-factory-prod-cache")
    assert titles.index(titles[1]) < next(i for i, t in enumerate(titles) if t.startswith("Create"))
    dev = restore.redis_snapshot(plan_of("dev"), "s1", now=NOW)
    text = dev.text()
    assert "--cache-node-type cache.t4g.small" in text
    assert "--num-node-groups 1" in text and "--no-multi-az-enabled" in text
    with pytest.raises(RestoreError, match=r"^--target-id"):
        restore.redis_snapshot(plan_of("prod"), "s1", target_id="x" * 41, now=NOW)


# -- s3-object-version -----------------------------------------------------------------


def test_s3_copies_a_version_of_a_versioned_bucket(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    procedure = restore.s3_object_version(plan, "backups", "db/dump 1.sql", version_id="v1")
    bucket = plan.outputs["bucketNames"]["backups"]
    text = procedure.text()
    assert f"list-object-versions \\\n    --region us-east-1 \\\n    --bucket {bucket}" in text
    assert f"--copy-source '{bucket}/db/dump%201.sql?versionId=v1'" in text
    assert any("90 day(s)" in note for note in procedure.notes)
    # The logical (Pulumi) name and the bucket's own name select it too.
    for name in ("prod-data-backups", bucket):
        assert restore.s3_object_version(plan, name, "k", version_id="v").summary.startswith("prod")


def test_s3_refuses_an_unversioned_bucket(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    unversioned = dataclasses.replace(
        plan,
        resources=[r for r in plan.resources if r.name != "prod-data-artifacts-versioning"],
    )
    with pytest.raises(
        RestoreError,
        match=r"^--bucket artifacts: agent-factory-prod-artifacts-123456789012 has no versioning",
    ):
        restore.s3_object_version(unversioned, "artifacts", "k", version_id="v")
    with pytest.raises(RestoreError, match=r"^--bucket nope: .*one of: access-logs, artifacts"):
        restore.s3_object_version(plan, "nope", "k", version_id="v")


def test_pick_version_is_the_newest_before() -> None:
    listing = {
        "Versions": [
            {"VersionId": "new", "LastModified": "2025-06-09T10:00:00.000Z"},
            {"VersionId": "mid", "LastModified": "2025-06-05T10:00:00+00:00"},
            {"VersionId": "old", "LastModified": "2025-06-01T10:00:00.000Z"},
        ]
    }
    assert restore.pick_version(listing, datetime(2025, 6, 8, tzinfo=UTC)) == "mid"
    with pytest.raises(RestoreError, match=r"^--before"):
        restore.pick_version(listing, datetime(2025, 5, 1, tzinfo=UTC))


# -- velero-namespace ------------------------------------------------------------------


def test_velero_names_the_namespace_and_the_mapping(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    procedure = restore.velero_namespace(
        plan, "tenant-acme", mapping="tenant-acme:tenant-acme-restore", now=NOW
    )
    (command,) = [c for c in procedure.commands if c.argv[:3] == ("velero", "restore", "create")]
    argv = list(command.argv)
    assert argv[argv.index("--include-namespaces") + 1] == "tenant-acme"
    assert argv[argv.index("--namespace-mappings") + 1] == "tenant-acme:tenant-acme-restore"
    assert argv[argv.index("--namespace") + 1] == "velero"
    assert isinstance(argv[argv.index("--from-backup") + 1], Sub)  # the latest completed
    assert "Requires Velero" in procedure.steps[0].title
    text = procedure.text()
    assert "--namespace tenant-acme-restore" in text and "--for=condition=Ready" in text
    assert "Bound" in text
    named = restore.velero_namespace(plan, "tenant-acme", backup="daily-1", now=NOW)
    assert "--from-backup daily-1" in named.text()
    with pytest.raises(RestoreError, match=r"^--namespace nope: not a namespace of stack prod"):
        restore.velero_namespace(plan, "nope", now=NOW)
    with pytest.raises(RestoreError, match="is a live namespace"):
        restore.velero_namespace(plan, "tenant-acme", mapping="tenant-acme:tenant-globex")


# -- the command line ------------------------------------------------------------------


def test_cli_dry_run_and_usage_errors(
    plan_of: Callable[[str], Plan], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(plan_of, "rds-pitr", "--stack", "prod", "--to", "2025-06-10T09:00:00Z") == 0
    out = capsys.readouterr().out
    assert "dry run" in out and "--source-db-instance-identifier agent-factory-prod-postgres" in out
    assert run(plan_of, "rds-pitr", "--stack", "nope", "--to", "2025-06-10T09:00:00Z") == 2
    assert "--stack nope: unknown stack; one of: dev" in capsys.readouterr().err
    assert run(plan_of, "rds-pitr", "--stack", "prod", "--to", "2025-01-01T00:00:00Z") == 2
    err = capsys.readouterr().err
    assert "--to 2025-01-01T00:00:00Z: older than" in err and len(err.strip().splitlines()) == 1
    assert run(plan_of, "rds-pitr", "--stack", "prod", "--to", "2025-06-10 09:00") == 2
    assert "give a UTC time" in capsys.readouterr().err
    assert run(plan_of, "s3-object-version", "--stack", "prod", "--bucket", "x", "--key", "k",
               "--version-id", "v") == 2  # fmt: skip
    assert "--bucket x: not a bucket of stack prod" in capsys.readouterr().err
    assert run(plan_of, "velero-namespace", "--stack", "prod", "--namespace", "tenant-acme") == 0
    assert run(plan_of, "redis-snapshot", "--stack", "prod", "--snapshot", "s1") == 0
    assert run(plan_of, "rds-pitr", "--stack", "prod") == 2  # argparse: --to is required
    capsys.readouterr()


def test_execute_without_aws_on_path_exits_2(
    plan_of: Callable[[str], Plan],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no aws, no bash
    ran: list[object] = []
    monkeypatch.setattr(restore.subprocess, "run", lambda *a, **k: ran.append(a))
    code = run(plan_of, "rds-pitr", "--stack", "prod", "--to", "2025-06-10T09:00:00Z", "--execute")
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --execute: aws not on PATH") and "\n" not in err
    assert ran == []


def test_execute_runs_only_the_run_steps_in_order(
    plan_of: Callable[[str], Plan],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(restore.shutil, "which", lambda program: f"/usr/bin/{program}")
    ran: list[list[str]] = []

    def fake_run(argv: list[str], **_: object) -> restore.subprocess.CompletedProcess[str]:
        ran.append(argv)
        return restore.subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(restore.subprocess, "run", fake_run)
    code = run(plan_of, "rds-pitr", "--stack", "prod", "--to", "2025-06-10T09:00:00Z", "--execute")
    assert code == 0
    assert [argv[2] for argv in ran] == [
        "describe-db-instances",
        "restore-db-instance-to-point-in-time",
        "wait",
        "modify-db-instance",
    ]
    assert not any("--new-db-instance-identifier" in argv for argv in ran)
    capsys.readouterr()
