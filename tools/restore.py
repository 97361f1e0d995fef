"""``python -m tools.restore <kind> --stack <stack> [options] [--execute]``: restore steps.

Kinds: ``rds-pitr``, ``redis-snapshot``, ``velero-namespace``, ``s3-object-version``. Each reads
the stack's plan (:func:`tools.synth.synth`) and prints the exact commands that restore that
store as the stack deploys it: identifiers, subnet and security groups, parameter groups and
KMS keys come from the plan's inputs and the mocks' answers, never from a second copy here.

Dry-run is the default: the steps are printed and nothing runs. ``--execute`` prints them,
then runs the steps marked ``run`` one by one (never the verification or cut-over steps,
which are decisions for the operator); it needs ``aws`` (and ``jq``/``kubectl``/``velero``
where a step uses them) on PATH.

The offline plan knows only what the program decides. Names AWS or Pulumi generate (an
auto-named subnet group's suffix, security group ids, KMS key ARNs, the account id) are the
mocks' there, and the output says which values those are. Two files override them with a
deployed stack's values:

- ``--from-outputs FILE``: ``pulumi stack output --json -s <stack>`` (region, the database
  ARN, KMS key ARNs, the cache's auth secret, bucket names);
- ``--from-state FILE``: ``pulumi stack export -s <stack>``: every resource's outputs by URN,
  so subnet groups, security groups, parameter groups and roles too.

Exit codes: 0 printed (or executed) fine, 1 an executed step failed, 2 a bad input (unknown
stack, bucket or namespace, a time outside the window, a missing program with
``--execute``): one line on stderr naming the option and what is allowed.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from rich.console import Console

from components.addons import velero
from tools.mocks import ACCOUNT_ID
from tools.stackconfig import StackConfigError, available_stacks
from tools.synth import ROOT, Plan, PlannedResource, SynthError, synth

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_BACKUP_COPY = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
CACHE_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
SECRET = "aws:secretsmanager/secret:Secret"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_SSE = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
BUCKET_LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
NAMESPACE = "kubernetes:core/v1:Namespace"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
# Where the stack's Velero runs, where it stores and what takes the backups
# (components/addons/velero.py): one source for the program and this tool.
VELERO_NAMESPACE = velero.NAMESPACE
VELERO_LOCATION = velero.STORAGE_LOCATION
VELERO_SCHEDULE = velero.SCHEDULE
# Pulumi's marker of a secret value in a state export.
_SECRET_SIG = "4dabf18193072939515e22adb298388d"
_RDS_ID = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{0,62}(?<!-)$")
_CACHE_ID = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{0,39}(?<!-)$")
_K8S_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class RestoreError(ValueError):
    """A bad input: the message names the option and what is allowed (exit 2)."""


# -- commands and steps ----------------------------------------------------------------


@dataclass(frozen=True)
class Sub:
    """A shell command substitution, ``"$(...)"``: evaluated by the shell when the command
    runs, never by this tool, so a secret it reads is never printed or held here."""

    command: str
    programs: tuple[str, ...]


Arg = str | Sub


@dataclass(frozen=True)
class Command:
    argv: tuple[Arg, ...]

    @property
    def programs(self) -> set[str]:
        """What must be on PATH to run it (bash evaluates substitutions)."""
        found = {self.argv[0]} if isinstance(self.argv[0], str) else set()
        for arg in self.argv:
            if isinstance(arg, Sub):
                found |= {*arg.programs, "bash"}
        return found

    def tokens(self) -> list[str]:
        return [_quote(a) if isinstance(a, str) else f'"$({a.command})"' for a in self.argv]

    def inline(self) -> str:
        return " ".join(self.tokens())

    def render(self) -> str:
        """One option per line, ready to paste into a shell."""
        lines: list[list[str]] = [[]]
        for token in self.tokens():
            if token.lstrip("'\"").startswith("--") and lines[-1]:
                lines.append([])
            lines[-1].append(token)
        return " \\\n    ".join(" ".join(line) for line in lines)

    def script(self) -> str:
        """What ``--execute`` hands to bash: substitutions first, into variables, so that a
        failing one stops the script (``set -e`` checks assignments, not arguments)."""
        assignments: list[str] = []
        words: list[str] = []
        for arg in self.argv:
            if isinstance(arg, Sub):
                name = f"restore_value_{len(assignments) + 1}"
                assignments.append(f'{name}="$({arg.command})"')
                words.append(f'"${name}"')
            else:
                words.append(_quote(arg))
        return "\n".join(["set -euo pipefail", *assignments, " ".join(words)])

    def needs_shell(self) -> bool:
        return any(isinstance(arg, Sub) for arg in self.argv)


def _quote(arg: str) -> str:
    """``shlex.quote``, but double quotes for a JMESPath query with '...' literals (readable)."""
    quoted = shlex.quote(arg)
    if quoted != arg and "'" in arg and not any(c in arg for c in '"$`\\!'):
        return f'"{arg}"'
    return quoted


def cli(words: str, /, *args: Arg | None, **options: Any) -> Command:
    """``words`` (program and subcommand) and positional ``args``, then one ``--option`` per
    keyword in order: ``db_instance_identifier="x"`` is ``--db-instance-identifier x``; True
    is the bare flag, False ``--no-<flag>``, None leaves it out, a list gives several values
    (an empty one leaves it out)."""
    argv: list[Arg] = [*words.split(), *(a for a in args if a is not None)]
    for name, value in options.items():
        flag = "--" + name.rstrip("_").replace("_", "-")
        if value is None:
            continue
        if value is True:
            argv.append(flag)
        elif value is False:
            argv.append(f"--no-{flag[2:]}")
        elif isinstance(value, list | tuple):
            if value:
                argv += [flag, *(v if isinstance(v, Sub) else str(v) for v in value)]
        else:
            argv += [flag, value if isinstance(value, Sub) else str(value)]
    return Command(tuple(argv))


def aws(operation: str, region: str, /, **options: Any) -> Command:
    """``aws <service> <operation> --region <region> ...``."""
    return cli(f"aws {operation}", region=region, **options)


@dataclass(frozen=True)
class Step:
    title: str
    detail: str = ""
    command: Command | None = None
    # Run by --execute; False: printed for the operator (checks, cut-over, rollback).
    run: bool = False


@dataclass(frozen=True)
class Procedure:
    kind: str
    stack: str
    summary: str
    steps: tuple[Step, ...]
    # Which values are the offline mocks' and how to get the deployed ones.
    notes: tuple[str, ...] = ()

    @property
    def commands(self) -> list[Command]:
        return [s.command for s in self.steps if s.command is not None]

    def text(self) -> str:
        """Every command rendered, one after the other (what tests search)."""
        return "\n".join(c.render() for c in self.commands)

    @property
    def programs(self) -> set[str]:
        found: set[str] = set()
        for step in self.steps:
            if step.run and step.command is not None:
                found |= step.command.programs
        return found


# -- what the deployed stack says ------------------------------------------------------


@dataclass(frozen=True)
class Deployed:
    """Values of a deployed stack that override the offline plan's generated ones."""

    outputs: dict[str, Any] = field(default_factory=dict)
    # URN -> the resource's outputs, from ``pulumi stack export``.
    state: dict[str, dict[str, Any]] = field(default_factory=dict)

    @staticmethod
    def _read(path: Path, option: str) -> Any:
        try:
            return json.loads(path.read_text())
        except OSError as exc:
            raise RestoreError(f"{option} {path}: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise RestoreError(
                f"{option} {path}: not JSON ({exc.msg}, line {exc.lineno})"
            ) from None

    @classmethod
    def load(cls, outputs: Path | None, state: Path | None) -> Deployed:
        values: dict[str, Any] = {}
        if outputs is not None:
            data = cls._read(outputs, "--from-outputs")
            if not isinstance(data, dict):
                raise RestoreError(
                    f"--from-outputs {outputs}: expected the object `pulumi stack output --json` "
                    "prints"
                )
            values = data
        resources: dict[str, dict[str, Any]] = {}
        if state is not None:
            data = cls._read(state, "--from-state")
            try:
                listed = data["deployment"]["resources"]
                resources = {
                    str(r["urn"]): _strip_secrets(dict(r.get("outputs") or {})) for r in listed
                }
            except (KeyError, TypeError):
                raise RestoreError(
                    f"--from-state {state}: expected the JSON `pulumi stack export` prints "
                    "(deployment.resources)"
                ) from None
        return cls(values, resources)


def _strip_secrets(outputs: dict[str, Any]) -> dict[str, Any]:
    """Secrets stay encrypted in an export; they are never needed here."""
    return {
        key: value
        for key, value in outputs.items()
        if not (isinstance(value, dict) and _SECRET_SIG in value)
    }


class Resolver:
    """Values of the plan's resources, overridden by a deployed stack's, noting which
    printed values are the offline mocks' inventions."""

    def __init__(self, plan: Plan, deployed: Deployed | None = None) -> None:
        self.plan = plan
        self.deployed = deployed or Deployed()
        self._mock_values: list[str] = []
        self._invented: set[str] = set()
        for resource in plan.resources:
            state = plan.states.get(resource.urn, {})
            for key in ("id", "name", "arn"):
                value = state.get(key)
                if isinstance(value, str) and resource.inputs.get(key) != value:
                    self._invented.add(value)
        if self.deployed.state and not any(r.urn in self.deployed.state for r in plan.resources):
            raise RestoreError(
                f"--from-state: none of stack {plan.stack}'s resources is in it; export this "
                f"stack (pulumi stack export -s {plan.stack})"
            )
        region = self.deployed.outputs.get("region")
        if region is not None and region != self.region:
            raise RestoreError(
                f"--from-outputs: region {region}, but stack {plan.stack} deploys "
                f"{self.region}; use `pulumi stack output --json -s {plan.stack}`"
            )

    @property
    def region(self) -> str:
        return str(self.plan.outputs.get("region", "us-east-1"))

    def values(self, resource: PlannedResource) -> dict[str, Any]:
        merged = {**self.plan.states.get(resource.urn, {}), **resource.inputs}
        merged.update(self.deployed.state.get(resource.urn, {}))
        return merged

    def deployed_value(self, resource: PlannedResource, key: str) -> bool:
        return key in self.deployed.state.get(resource.urn, {})

    def output(self, *path: str) -> Any:
        value: Any = self.deployed.outputs
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        return value

    def check(self, label: str, value: Any, *, overridden: bool) -> None:
        """Note a printed value that the mocks made up (when no deployed value replaced it)."""
        if overridden:
            return
        items = value if isinstance(value, list | tuple) else [value]
        invented = [
            str(v) for v in items if isinstance(v, str) and (v in self._invented or ACCOUNT_ID in v)
        ]
        if invented:
            self._mock_values.append(f"{label} {', '.join(invented)}")

    @property
    def notes(self) -> list[str]:
        if not self._mock_values:
            return []
        return [
            "offline plan: these values are the mocks' (account "
            f"{ACCOUNT_ID}, generated names and ids), a deployed stack's differ: "
            + "; ".join(self._mock_values)
            + ". Pass --from-state (pulumi stack export) for all of them, --from-outputs "
            "(pulumi stack output --json) for KMS keys, bucket names and the database ARN"
        ]


# -- parsing -----------------------------------------------------------------------


def parse_utc(value: str, option: str) -> datetime:
    """ISO 8601 with a zone (``2025-06-01T12:00:00Z``), returned in UTC."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RestoreError(
            f"{option} {value}: not an ISO 8601 time; e.g. 2025-06-01T12:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        raise RestoreError(
            f"{option} {value}: give a UTC time with its zone, e.g. 2025-06-01T12:00:00Z"
        )
    return parsed.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _one(resources: list[PlannedResource], what: str, stack: str) -> PlannedResource:
    if len(resources) != 1:
        raise RestoreError(
            f"--stack {stack}: expected one {what} in the plan, found {len(resources)}"
        )
    return resources[0]


# -- RDS point-in-time restore -------------------------------------------------------


def postgres_writer(plan: Plan) -> PlannedResource:
    """The region's main instance: not a read replica of another instance of this plan."""
    instances = plan.by_type(RDS_INSTANCE)
    identifiers = {r.inputs.get("identifier") for r in instances}
    writers = [r for r in instances if r.inputs.get("replicateSourceDb") not in identifiers]
    return _one(writers, "main PostgreSQL instance", plan.stack)


_SOURCE_QUERY = (
    "DBInstances[0].{status:DBInstanceStatus,latestRestorable:LatestRestorableTime,"
    "kms:KmsKeyId,subnets:DBSubnetGroup.DBSubnetGroupName,"
    "securityGroups:VpcSecurityGroups[].VpcSecurityGroupId,"
    "parameters:DBParameterGroups[].DBParameterGroupName}"
)
_TARGET_QUERY = (
    "DBInstances[0].{status:DBInstanceStatus,address:Endpoint.Address,kms:KmsKeyId,"
    "encrypted:StorageEncrypted,class:DBInstanceClass,multiAz:MultiAZ,"
    "iamAuth:IAMDatabaseAuthenticationEnabled,masterSecret:MasterUserSecret.SecretArn}"
)


def rds_pitr(
    plan: Plan,
    to: datetime,
    *,
    target_id: str | None = None,
    now: datetime | None = None,
    deployed: Deployed | None = None,
) -> Procedure:
    now = now or datetime.now(UTC)
    resolve = Resolver(plan, deployed)
    region = resolve.region
    writer = postgres_writer(plan)
    values = resolve.values(writer)
    identifier = str(values["identifier"])
    arn_output = resolve.output("postgresInstanceArn")
    if isinstance(arn_output, str) and ":db:" in arn_output:
        identifier = arn_output.rsplit(":db:", 1)[1]

    # Where the transaction logs are: the writer's own backups or, for a secondary's
    # replica, the copy of the primary's automated backups kept in this region.
    source: dict[str, Any]
    source_arn = values.get("replicateSourceDb")
    if source_arn is None:
        retention = int(values.get("backupRetentionPeriod") or 0)
        if retention <= 0:
            raise RestoreError(
                f"--stack {plan.stack}: {identifier} keeps no automated backups "
                "(backupRetentionPeriod 0); nothing to restore from"
            )
        source = {"source_db_instance_identifier": identifier}
        preflight = aws(
            "rds describe-db-instances",
            region,
            db_instance_identifier=identifier,
            query=_SOURCE_QUERY,
        )
        source_label = f"{identifier}'s automated backups"
    else:
        copies = [
            r
            for r in plan.by_type(RDS_BACKUP_COPY)
            if r.inputs.get("sourceDbInstanceArn") == source_arn
        ]
        if not copies:
            raise RestoreError(
                f"--stack {plan.stack}: {identifier} is a read replica of {source_arn} and this "
                "region keeps no copy of its backups; run rds-pitr with --stack of the "
                "primary, or of a secondary with multiRegion.replicateBackups"
            )
        retention = int(copies[0].inputs.get("retentionPeriod") or 0)
        of_source = f"DBInstanceAutomatedBackups[?DBInstanceArn=='{source_arn}']"
        lookup = aws(
            "rds describe-db-instance-automated-backups",
            region,
            query=f"{of_source}.DBInstanceAutomatedBackupsArn | [0]",
            output="text",
        )
        source = {
            "source_db_instance_automated_backups_arn": Sub(lookup.inline(), ("aws",)),
        }
        preflight = aws(
            "rds describe-db-instance-automated-backups",
            region,
            query=f"{of_source}.{{arn:DBInstanceAutomatedBackupsArn,status:Status,"
            "earliest:RestoreWindow.EarliestTime,latest:RestoreWindow.LatestTime,kms:KmsKeyId}",
        )
        source_label = f"the copy of {source_arn}'s automated backups in {region}"

    earliest = now - timedelta(days=retention)
    if to > now:
        raise RestoreError(f"--to {_iso(to)}: in the future; allowed: {_iso(earliest)} to now")
    if to < earliest:
        raise RestoreError(
            f"--to {_iso(to)}: older than the {retention}-day backup retention of {plan.stack}; "
            f"allowed: {_iso(earliest)} to now"
        )
    target = target_id or f"{identifier}-pitr-{to:%Y%m%d%H%M}"
    if not _RDS_ID.match(target):
        raise RestoreError(
            f"--target-id {target}: an RDS identifier is 1-63 letters, digits and single "
            "hyphens, starting with a letter"
        )
    if target == identifier:
        raise RestoreError(
            f"--target-id {target}: is the live instance; restore beside it, then cut over"
        )

    kms_key = str(values["kmsKeyId"])
    kms_overridden = resolve.deployed_value(writer, "kmsKeyId")
    if isinstance(resolve.output("keyArns", "data"), str) and not kms_overridden:
        kms_key, kms_overridden = str(resolve.output("keyArns", "data")), True
    secrets_key = resolve.output("keyArns", "secrets") or values.get("masterUserSecretKmsKeyId")
    for label, key in (
        ("subnet group", "dbSubnetGroupName"),
        ("security groups", "vpcSecurityGroupIds"),
        ("parameter group", "parameterGroupName"),
        ("monitoring role", "monitoringRoleArn"),
    ):
        resolve.check(label, values.get(key), overridden=resolve.deployed_value(writer, key))
    resolve.check("KMS key", kms_key, overridden=kms_overridden)

    instance_class = str(values["instanceClass"])
    restore = aws(
        "rds restore-db-instance-to-point-in-time",
        region,
        **source,
        target_db_instance_identifier=target,
        restore_time=_iso(to),
        db_instance_class=instance_class,
        multi_az=bool(values.get("multiAz")),
        db_subnet_group_name=values["dbSubnetGroupName"],
        vpc_security_group_ids=values.get("vpcSecurityGroupIds") or [],
        db_parameter_group_name=values["parameterGroupName"],
        publicly_accessible=bool(values.get("publiclyAccessible")),
        enable_iam_database_authentication=bool(values.get("iamDatabaseAuthenticationEnabled")),
        deletion_protection=bool(values.get("deletionProtection")),
        copy_tags_to_snapshot=bool(values.get("copyTagsToSnapshot")),
        storage_type=values.get("storageType"),
        max_allocated_storage=_int(values.get("maxAllocatedStorage")),
        enable_cloudwatch_logs_exports=values.get("enabledCloudwatchLogsExports") or [],
        ca_certificate_identifier=values.get("caCertIdentifier"),
        tags=[f"Key=restored-from,Value={identifier}", f"Key=restore-time,Value={_iso(to)}"],
    )
    monitoring_interval = _int(values.get("monitoringInterval"))
    pi_key = values.get("performanceInsightsKmsKeyId")
    if pi_key is None or pi_key == writer.inputs.get("kmsKeyId"):
        pi_key = kms_key  # the plan uses the data key for both
    settle = aws(
        "rds modify-db-instance",
        region,
        db_instance_identifier=target,
        backup_retention_period=retention,
        preferred_backup_window=values.get("backupWindow"),
        enable_performance_insights=True,
        performance_insights_kms_key_id=pi_key,
        performance_insights_retention_period=_int(
            values.get("performanceInsightsRetentionPeriod")
        ),
        monitoring_interval=monitoring_interval,
        monitoring_role_arn=values.get("monitoringRoleArn") if monitoring_interval else None,
        apply_immediately=True,
    )
    manage_secret = aws(
        "rds modify-db-instance",
        region,
        db_instance_identifier=target,
        manage_master_user_password=True,
        master_user_secret_kms_key_id=secrets_key,
        apply_immediately=True,
    )
    steps = [
        Step(
            "Check the source and its restore window",
            f"Restoring from {source_label}. The restore time must not be later than the "
            "latest restorable time (RDS trails by about 5 minutes). Compare the subnet group, "
            "security groups and parameter group with those of the next command.",
            preflight,
            run=True,
        ),
        Step(
            f"Restore {identifier} as {target} at {_iso(to)}",
            "A new instance beside the live one, which is untouched. The encryption key is "
            f"inherited from the backups ({kms_key}): this API takes no key.",
            restore,
            run=True,
        ),
        Step(
            "Wait until it is available (size-dependent: tens of minutes)",
            command=aws("rds wait db-instance-available", region, db_instance_identifier=target),
            run=True,
        ),
        Step(
            "Give it the stack's backup retention, Performance Insights and monitoring",
            "A restore does not take these over from the source.",
            settle,
            run=True,
        ),
        Step(
            "Verify",
            f"kms must be {kms_key}, encrypted true, class {instance_class}. Then connect "
            "(psql, sslmode=verify-full, database agentfactory, user agentfactory_admin) and "
            "check that the lost rows are there and nothing written after the restore time is.",
            aws(
                "rds describe-db-instances",
                region,
                db_instance_identifier=target,
                query=_TARGET_QUERY,
            ),
        ),
        Step(
            "Only if masterSecret above is empty: let RDS manage the master password",
            command=manage_secret,
        ),
    ]
    steps += _rds_cutover(writer, identifier, target, region, source_arn)
    of = identifier if source_arn is None else f"{source_arn} (backup copy in {region})"
    return Procedure(
        "rds-pitr",
        plan.stack,
        f"{plan.stack} ({region}): restore PostgreSQL {of} to {_iso(to)} as {target}; "
        f"window {_iso(earliest)} to now ({retention} days)",
        tuple(steps),
        tuple(resolve.notes),
    )


def _rds_cutover(
    writer: PlannedResource, identifier: str, target: str, region: str, source_arn: Any
) -> list[Step]:
    """Copy back, swap by name (a writer only), then clean up."""
    steps: list[Step] = []
    if source_arn is not None:
        # This region's instance is a replica: the data belongs to the primary's writer.
        steps.append(
            Step(
                "Cut over: copy the lost data back to the primary's writer",
                f"{identifier} is a read replica of {source_arn}; pg_dump the affected tables "
                f"from {target} and load them into that writer (its replicas, this one "
                "included, then repeat them). If the primary region is gone, this restored "
                "instance is a writer candidate: docs/runbooks/dr-database-failure.md.",
            )
        )
    else:
        steps += [
            Step(
                "Cut over, A (preferred; a bad write, a few tables): copy the lost data back",
                f"pg_dump the affected tables from {target} and load them into {identifier} in one "
                "transaction. The live instance, its read replicas and the cross-region replicas "
                "keep running, and the Pulumi state does not change.",
            ),
            Step(
                "Cut over, B (widespread damage): swap the instances by name; first rename "
                "the live one away",
                "Stop the writers first (scale the API to zero). After the two renames the "
                "restored instance answers at the old endpoint address, so clients need no "
                "change. The read replicas and the cross-region replicas keep following the old "
                "instance: re-create them (pulumi state unprotect, then pulumi up --replace on "
                "each). Re-adopt the writer: pulumi state unprotect and pulumi state delete on "
                f"{writer.urn}, then pulumi import {RDS_INSTANCE} {writer.name} {identifier} "
                f"--parent 'data={writer.parent}' --protect; pulumi preview must then show no "
                "replace.",
                aws(
                    "rds modify-db-instance",
                    region,
                    db_instance_identifier=identifier,
                    new_db_instance_identifier=f"{identifier}-old",
                    apply_immediately=True,
                ),
            ),
            Step(
                "Cut over, B (continued): the restored instance takes the live name",
                command=aws(
                    "rds modify-db-instance",
                    region,
                    db_instance_identifier=target,
                    new_db_instance_identifier=identifier,
                    apply_immediately=True,
                ),
            ),
        ]
    steps += [
        Step(
            "Roll back / clean up: delete the restored instance when done (protection off first)",
            "After a swap (B), roll back by renaming both back the same way; keep the old "
            "instance until the incident is closed.",
            aws(
                "rds modify-db-instance",
                region,
                db_instance_identifier=target,
                deletion_protection=False,
                apply_immediately=True,
            ),
        ),
        Step(
            "Roll back / clean up (continued)",
            command=aws(
                "rds delete-db-instance",
                region,
                db_instance_identifier=target,
                skip_final_snapshot=True,
            ),
        ),
    ]
    return steps


# -- ElastiCache restore from a snapshot --------------------------------------------


def _default_cache_target(group: str, now: datetime) -> str:
    suffix = f"-r{now:%y%m%d%H%M}"
    return group[: 40 - len(suffix)].rstrip("-") + suffix


_SNAPSHOT_QUERY = (
    "Snapshots[0].{status:SnapshotStatus,source:ReplicationGroupId,engine:Engine,"
    "version:EngineVersion,nodeType:CacheNodeType,shards:NumNodeGroups}"
)
_GROUP_QUERY = (
    "ReplicationGroups[0].{status:Status,configEndpoint:ConfigurationEndpoint.Address,"
    "atRest:AtRestEncryptionEnabled,transit:TransitEncryptionEnabled,"
    "authToken:AuthTokenEnabled,kms:KmsKeyId,shards:length(NodeGroups)}"
)


def redis_snapshot(
    plan: Plan,
    snapshot: str,
    *,
    target_id: str | None = None,
    now: datetime | None = None,
    deployed: Deployed | None = None,
) -> Procedure:
    now = now or datetime.now(UTC)
    resolve = Resolver(plan, deployed)
    region = resolve.region
    group_resource = _one(plan.by_type(CACHE_GROUP), "cache replication group", plan.stack)
    values = resolve.values(group_resource)
    group = str(values["replicationGroupId"])
    if values.get("globalReplicationGroupId"):
        raise RestoreError(
            f"--stack {plan.stack}: {group} is a read-only member of a Global Datastore; "
            "restore the primary's cache (--stack of the primary region)"
        )
    if not snapshot.strip():
        raise RestoreError("--snapshot: give a snapshot name (aws elasticache describe-snapshots)")
    target = target_id or _default_cache_target(group, now)
    if not _CACHE_ID.match(target):
        raise RestoreError(
            f"--target-id {target}: a replication group id is 1-40 letters, digits and single "
            "hyphens, starting with a letter"
        )
    secrets = [
        r
        for r in plan.by_type(SECRET)
        if str(r.inputs.get("name", "")).endswith("/cache/auth-token")
    ]
    secret_name = str(_one(secrets, "cache auth-token secret", plan.stack).inputs["name"])
    kms_key = str(values["kmsKeyId"])
    kms_overridden = resolve.deployed_value(group_resource, "kmsKeyId")
    if isinstance(resolve.output("keyArns", "data"), str) and not kms_overridden:
        kms_key, kms_overridden = str(resolve.output("keyArns", "data")), True
    for label, key in (
        ("cache subnet group", "subnetGroupName"),
        ("security groups", "securityGroupIds"),
        ("cache parameter group", "parameterGroupName"),
    ):
        overridden = resolve.deployed_value(group_resource, key)
        resolve.check(label, values.get(key), overridden=overridden)
    resolve.check("KMS key", kms_key, overridden=kms_overridden)

    # Read when the command runs: the token never appears in the output, the plan or here.
    read_token = aws(
        "secretsmanager get-secret-value",
        region,
        secret_id=secret_name,
        query="SecretString",
        output="text",
    )
    token = Sub(f"{read_token.inline()} | jq -r .authToken", ("aws", "jq"))
    shards = _int(values.get("numNodeGroups")) or 1
    replicas = _int(values.get("replicasPerNodeGroup")) or 0
    node_type = str(values["nodeType"])
    in_place = target == group
    steps: list[Step] = [
        Step(
            "Check the snapshot",
            f"Status must be available, the source {group}. List them: aws elasticache "
            f"describe-snapshots --region {region} --replication-group-id {group}",
            aws(
                "elasticache describe-snapshots",
                region,
                snapshot_name=snapshot,
                show_node_group_config=True,
                query=_SNAPSHOT_QUERY,
            ),
            run=True,
        )
    ]
    if in_place:
        steps += [
            Step(
                f"Delete the damaged {group} (in place: same id, so the same endpoint)",
                "Its final snapshot keeps what it held. Pulumi's protect does not stop this.",
                aws(
                    "elasticache delete-replication-group",
                    region,
                    replication_group_id=group,
                    final_snapshot_identifier=f"{group}-pre-restore-{now:%Y%m%d%H%M}",
                ),
                run=True,
            ),
            Step(
                "Wait until it is gone",
                command=aws(
                    "elasticache wait replication-group-deleted",
                    region,
                    replication_group_id=group,
                ),
                run=True,
            ),
        ]
    create = aws(
        "elasticache create-replication-group",
        region,
        replication_group_id=target,
        replication_group_description=f"{values.get('description', group)} (from {snapshot})",
        snapshot_name=snapshot,
        engine=values.get("engine"),
        engine_version=values.get("engineVersion"),
        cache_node_type=node_type,
        cluster_mode=values.get("clusterMode"),
        num_node_groups=shards,
        replicas_per_node_group=replicas,
        cache_parameter_group_name=values.get("parameterGroupName"),
        cache_subnet_group_name=values["subnetGroupName"],
        security_group_ids=values.get("securityGroupIds") or [],
        port=_int(values.get("port")) or 6379,
        at_rest_encryption_enabled=bool(values.get("atRestEncryptionEnabled")),
        kms_key_id=kms_key,
        transit_encryption_enabled=bool(values.get("transitEncryptionEnabled")),
        transit_encryption_mode=values.get("transitEncryptionMode"),
        auth_token=token if values.get("transitEncryptionEnabled") else None,
        automatic_failover_enabled=bool(values.get("automaticFailoverEnabled")),
        multi_az_enabled=bool(values.get("multiAzEnabled")),
        snapshot_retention_limit=_int(values.get("snapshotRetentionLimit")),
        snapshot_window=values.get("snapshotWindow"),
        preferred_maintenance_window=values.get("maintenanceWindow"),
        auto_minor_version_upgrade=bool(values.get("autoMinorVersionUpgrade", True)),
    )
    steps += [
        Step(
            f"Create {target} from {snapshot}",
            f"{node_type}, {shards} shard(s) x {replicas} replica(s), encrypted at rest with "
            f"{kms_key} and in transit. The AUTH token is read from the secret {secret_name} "
            "when the command runs (it is on the aws process's command line while it runs).",
            create,
            run=True,
        ),
        Step(
            "Wait until it is available (about 15-30 minutes)",
            command=aws(
                "elasticache wait replication-group-available",
                region,
                replication_group_id=target,
            ),
            run=True,
        ),
        Step(
            "Verify",
            "status available; atRest, transit and authToken true; kms as above. Then "
            "valkey-cli (or redis-cli) -c --tls -h <configEndpoint> -p 6379 --askpass: "
            "CLUSTER INFO shows cluster_state:ok, DBSIZE on each shard is plausible.",
            aws(
                "elasticache describe-replication-groups",
                region,
                replication_group_id=target,
                query=_GROUP_QUERY,
            ),
        ),
    ]
    if in_place:
        steps.append(
            Step(
                "Reconcile Pulumi",
                f"Same id, so the state still points at it: pulumi refresh -s {plan.stack}; "
                f"pulumi preview -s {plan.stack} must show no replace of {group_resource.name}. "
                "Clients reconnect to the same configuration endpoint with the same token.",
            )
        )
    else:
        steps.append(
            Step(
                "Cut over",
                f"{target} runs beside the live {group}, outside the Pulumi state. To make the "
                f"snapshot the live cache, run this again with --target-id {group}: that "
                f"deletes {group} (with a final snapshot) and restores under its id, so the "
                f"endpoint in {secret_name} stays right. Otherwise copy the keys you need, then "
                f"delete {target}.",
            )
        )
    steps.append(
        Step(
            "Roll back / clean up",
            "After an in-place restore, rollback is another in-place restore from the "
            "pre-restore final snapshot; a side-by-side group is deleted when done.",
            None
            if in_place
            else aws("elasticache delete-replication-group", region, replication_group_id=target),
        )
    )
    return Procedure(
        "redis-snapshot",
        plan.stack,
        f"{plan.stack} ({region}): restore cache {group} from snapshot {snapshot} as {target}"
        + (" (in place)" if in_place else " (side by side)"),
        tuple(steps),
        tuple(resolve.notes),
    )


# -- Velero namespace restore --------------------------------------------------------


def stack_namespaces(plan: Plan) -> list[str]:
    """Namespaces the stack creates or installs charts into."""
    names = {
        str(r.inputs["metadata"]["name"])
        for r in plan.by_type(NAMESPACE)
        if (r.inputs.get("metadata") or {}).get("name")
    }
    names |= {
        str(r.inputs["namespace"]) for r in plan.by_type(HELM_RELEASE) if r.inputs.get("namespace")
    }
    return sorted(names)


def _latest_backup(namespace: str) -> Sub:
    """The newest Completed backup that includes ``namespace`` (or every namespace)."""
    selector = (
        '[.items[] | select(.status.phase == "Completed") '
        '| select((.spec.includedNamespaces // ["*"]) | index($ns) != null or index("*") != null)]'
        " | sort_by(.status.completionTimestamp) | last | .metadata.name"
    )
    listing = cli("kubectl get backups.velero.io", namespace=VELERO_NAMESPACE, output="json")
    pick = shlex.join(["jq", "-r", "--arg", "ns", namespace, selector])
    return Sub(f"{listing.inline()} | {pick}", ("kubectl", "jq"))


def velero_namespace(
    plan: Plan,
    namespace: str,
    *,
    backup: str | None = None,
    mapping: str | None = None,
    now: datetime | None = None,
    deployed: Deployed | None = None,
) -> Procedure:
    now = now or datetime.now(UTC)
    resolve = Resolver(plan, deployed)
    region = resolve.region
    installed = any(
        r.inputs.get("namespace") == VELERO_NAMESPACE and r.inputs.get("name") == velero.NAME
        for r in plan.by_type(HELM_RELEASE)
    )
    if not installed:
        raise RestoreError(
            f"stack {plan.stack} does not install Velero (agent-factory:backups.velero): "
            "it has no namespace backups to restore"
        )
    known = stack_namespaces(plan)
    if namespace not in known:
        raise RestoreError(
            f"--namespace {namespace}: not a namespace of stack {plan.stack}; one of: "
            f"{', '.join(known)}"
        )
    target = namespace
    if mapping is not None:
        source, _, target = mapping.partition(":")
        if source != namespace or not _K8S_NAME.match(target):
            raise RestoreError(
                f"--namespace-mappings {mapping}: give {namespace}:<new namespace>, a DNS label"
            )
        if target in known:
            raise RestoreError(
                f"--namespace-mappings {mapping}: {target} is a live namespace of the stack; "
                "restore side by side into a new one"
            )
    side_by_side = target != namespace
    cluster = resolve.output("clusterName") or plan.outputs.get("clusterName")
    restore_name = f"{namespace}-{now:%Y%m%d%H%M%S}"
    if backup is not None:
        from_backup: Arg = backup
        select = Step(
            f"Check backup {backup}",
            f"Phase must be Completed and {namespace} among its namespaces.",
            cli("velero backup describe", backup, details=True, namespace=VELERO_NAMESPACE),
            run=True,
        )
    else:
        from_backup = _latest_backup(namespace)
        select = Step(
            f"List the backups; the restore takes the newest Completed one including {namespace}",
            command=cli("velero backup get", namespace=VELERO_NAMESPACE),
            run=True,
        )
    kubeconfig = (
        f" Point kubectl at the cluster: aws eks update-kubeconfig --region {region} "
        f"--name {cluster}."
        if cluster
        else ""
    )
    steps = [
        Step(
            "Requires Velero: check it runs and its backup location is Available",
            f"The stack installs Velero in the namespace {VELERO_NAMESPACE}; its schedule "
            f"{VELERO_SCHEDULE} backs up every namespace every 6 hours to the location "
            f"{VELERO_LOCATION} (the stack's backups bucket, prefix {velero.PREFIX}/). A "
            f"location that is not Available has no backups to restore.{kubeconfig}",
            cli("velero backup-location get", VELERO_LOCATION, namespace=VELERO_NAMESPACE),
            run=True,
        ),
        select,
        Step(
            f"Restore {namespace}"
            + (f" into {target}, side by side" if side_by_side else " in place"),
            f"{namespace} keeps running; {target} gets copies of its objects and volumes."
            if side_by_side
            else "Velero skips objects that still exist: delete the broken ones first, or "
            "restore side by side (--namespace-mappings) and move traffic.",
            cli(
                "velero restore create",
                restore_name,
                namespace=VELERO_NAMESPACE,
                from_backup=from_backup,
                include_namespaces=namespace,
                namespace_mappings=f"{namespace}:{target}" if side_by_side else None,
                wait=True,
            ),
            run=True,
        ),
        Step(
            "Check the restore: phase Completed; read every warning and error",
            command=cli(
                "velero restore describe", restore_name, details=True, namespace=VELERO_NAMESPACE
            ),
            run=True,
        ),
        Step(
            f"Pods in {target} Ready",
            command=cli(
                "kubectl wait pods --all --for=condition=Ready --timeout=10m",
                namespace=target,
            ),
        ),
        Step(
            f"PVCs in {target} Bound",
            command=cli(
                "kubectl wait pvc --all --for=jsonpath={.status.phase}=Bound --timeout=10m",
                namespace=target,
            ),
        ),
        Step(
            "Roll back / clean up",
            f"Side by side: delete {target} when done. In place: restore again from an "
            "earlier backup.",
            cli("kubectl delete namespace", target) if side_by_side else None,
        ),
    ]
    source = f"backup {backup}" if backup else "the latest completed backup"
    return Procedure(
        "velero-namespace",
        plan.stack,
        f"{plan.stack} ({region}): restore namespace {namespace}"
        + (f" as {target}" if side_by_side else "")
        + f" from {source}",
        tuple(steps),
        tuple(resolve.notes),
    )


# -- S3 object version ---------------------------------------------------------------


@dataclass(frozen=True)
class BucketFacts:
    purpose: str
    resource: PlannedResource
    name: str
    versioned: bool
    sse: str | None
    kms_key: str | None
    noncurrent_days: int | None


def bucket_facts(plan: Plan, resolve: Resolver) -> list[BucketFacts]:
    """Each bucket with what its guard resources (found by their ``bucket`` input) say."""
    related: dict[str, list[PlannedResource]] = {}
    for resource in plan.resources:
        bucket = resource.inputs.get("bucket")
        if resource.type != BUCKET and isinstance(bucket, str):
            related.setdefault(bucket, []).append(resource)
    planned_names = plan.outputs.get("bucketNames") or {}
    deployed_names = resolve.output("bucketNames") or {}
    facts: list[BucketFacts] = []
    for resource in plan.by_type(BUCKET):
        planned = str(resource.inputs.get("bucket") or resolve.values(resource).get("bucket"))
        purpose = next((p for p, n in planned_names.items() if n == planned), resource.name)
        name = str(deployed_names.get(purpose) or resolve.values(resource).get("bucket"))
        versioned, sse, kms_key, noncurrent = False, None, None, None
        for guard in related.get(planned, []):
            inputs = guard.inputs
            if guard.type == BUCKET_VERSIONING:
                status = (inputs.get("versioningConfiguration") or {}).get("status")
                versioned = versioned or status == "Enabled"
            elif guard.type == BUCKET_SSE:
                rule = (inputs.get("rules") or [{}])[0]
                default = rule.get("applyServerSideEncryptionByDefault") or {}
                sse, kms_key = default.get("sseAlgorithm"), default.get("kmsMasterKeyId")
            elif guard.type == BUCKET_LIFECYCLE:
                for rule in inputs.get("rules") or []:
                    days = (rule.get("noncurrentVersionExpiration") or {}).get("noncurrentDays")
                    noncurrent = int(days) if days else noncurrent
        if kms_key and isinstance(resolve.output("keyArns", "s3"), str):
            kms_key = str(resolve.output("keyArns", "s3"))
        facts.append(BucketFacts(purpose, resource, name, versioned, sse, kms_key, noncurrent))
    return facts


def _jmes_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def pick_version(listing: dict[str, Any], before: datetime) -> str:
    """The newest version (never a delete marker) written before ``before``."""
    candidates = [
        (parse_utc(str(v["LastModified"]).replace("Z", "+00:00"), "LastModified"), v["VersionId"])
        for v in listing.get("Versions") or []
    ]
    earlier = [(when, str(version)) for when, version in candidates if when < before]
    if not earlier:
        raise RestoreError(f"--before {_iso(before)}: no version of the key is older")
    return max(earlier)[1]


def s3_object_version(
    plan: Plan,
    bucket: str,
    key: str,
    *,
    version_id: str | None = None,
    before: datetime | None = None,
    deployed: Deployed | None = None,
) -> Procedure:
    resolve = Resolver(plan, deployed)
    region = resolve.region
    buckets = bucket_facts(plan, resolve)
    chosen = [b for b in buckets if bucket in (b.purpose, b.resource.name, b.name)]
    if not chosen:
        allowed = ", ".join(b.purpose for b in buckets)
        raise RestoreError(
            f"--bucket {bucket}: not a bucket of stack {plan.stack}; one of: {allowed}"
        )
    facts = chosen[0]
    if not facts.versioned:
        versioned = ", ".join(b.purpose for b in buckets if b.versioned) or "none"
        raise RestoreError(
            f"--bucket {bucket}: {facts.name} has no versioning in stack {plan.stack}, so there "
            f"is no earlier version to restore; versioned buckets: {versioned}"
        )
    if not key or key.endswith("/"):
        raise RestoreError(f"--key {key!r}: give one object's key, not a prefix")
    if (version_id is None) == (before is None):
        raise RestoreError("--version-id/--before: give exactly one of them")
    resolve.check("bucket", facts.name, overridden=bool(resolve.output("bucketNames")))
    if facts.kms_key:
        resolve.check("KMS key", facts.kms_key, overridden=bool(resolve.output("keyArns")))
    name = facts.name
    selector = f"[?Key=={_jmes_string(key)}]"
    listing = aws(
        "s3api list-object-versions",
        region,
        bucket=name,
        prefix=key,
        query=f"{{Versions: Versions{selector}.{{VersionId: VersionId, "
        "LastModified: LastModified, IsLatest: IsLatest, Size: Size, ETag: ETag}, "
        f"DeleteMarkers: DeleteMarkers{selector}.{{VersionId: VersionId, "
        "LastModified: LastModified, IsLatest: IsLatest}}",
        output="json",
    )
    version = version_id or "<VERSION_ID>"
    if version_id is not None:
        target = f"version {version_id}"
        picked = ""
    else:
        assert before is not None  # exactly one of them, checked above
        target = f"its newest version before {_iso(before)}"
        picked = f" --execute picks the newest version written before {_iso(before)}."
    encryption = f"ServerSideEncryption {facts.sse}" + (
        f", SSEKMSKeyId {facts.kms_key}" if facts.kms_key else ""
    )
    steps = [
        Step(
            f"List the versions of s3://{name}/{key}",
            "Delete markers are listed too: a deleted object's earlier versions are still "
            f"there.{picked}",
            listing,
            run=True,
        ),
        Step(
            f"Check version {version}",
            command=aws("s3api head-object", region, bucket=name, key=key, version_id=version),
            run=True,
        ),
        Step(
            "Make it the current version again: copy it onto its own key",
            "The copy becomes a new current version; every existing version stays. The "
            "bucket's default encryption applies. Up to 5 GiB per copy (beyond: multipart "
            "upload-part-copy).",
            aws(
                "s3api copy-object",
                region,
                bucket=name,
                key=key,
                copy_source=f"{name}/{quote(key, safe='/')}?versionId={version}",
            ),
            run=True,
        ),
        Step(
            "Verify",
            f"VersionId is new; ETag and ContentLength equal those of {version}; {encryption}.",
            aws("s3api head-object", region, bucket=name, key=key),
        ),
        Step(
            "Roll back: delete the version the copy created (copy-object printed its VersionId); "
            "the previous one is current again",
            command=aws(
                "s3api delete-object",
                region,
                bucket=name,
                key=key,
                version_id="<VersionId from copy-object>",
            ),
        ),
    ]
    notes = list(resolve.notes)
    if facts.noncurrent_days:
        notes.append(
            f"{facts.purpose}: a version expires {facts.noncurrent_days} day(s) after it stopped "
            "being current (lifecycle rule noncurrent-versions); older ones are gone"
        )
    return Procedure(
        "s3-object-version",
        plan.stack,
        f"{plan.stack} ({region}): restore s3://{name}/{key} to {target}",
        tuple(steps),
        tuple(notes),
    )


# -- output and execution ------------------------------------------------------------


def show(procedure: Procedure, console: Console, *, execute: bool) -> None:
    console.print(f"[bold]{procedure.kind}[/bold]: ", end="")
    console.print(procedure.summary, markup=False, highlight=False)
    console.print(
        "executing the [green]run[/green] steps after printing them"
        if execute
        else "dry run: nothing is executed (add --execute to run the [green]run[/green] steps)"
    )
    for note in procedure.notes:
        console.print("[yellow]note:[/yellow] ", end="")
        console.print(note, markup=False, highlight=False)
    for number, step in enumerate(procedure.steps, start=1):
        tag = "[green]run[/green]" if step.run else "[cyan]manual[/cyan]"
        console.print(f"\n[bold]{number}.[/bold] {tag} ", end="")
        console.print(step.title, markup=False, highlight=False)
        if step.detail:
            console.print(f"   {step.detail}", markup=False, highlight=False)
        if step.command is not None:
            console.print(step.command.render(), markup=False, highlight=False, soft_wrap=True)


def run_command(cmd: Command, capture: bool = False) -> subprocess.CompletedProcess[str]:
    if cmd.needs_shell():
        return subprocess.run(
            ["bash", "-c", cmd.script()], check=False, text=True, capture_output=capture
        )
    argv = [a for a in cmd.argv if isinstance(a, str)]
    return subprocess.run(argv, check=False, text=True, capture_output=capture)


def missing_programs(procedure: Procedure) -> list[str]:
    return sorted(p for p in procedure.programs if shutil.which(p) is None)


def execute(procedure: Procedure, console: Console, errors: Console) -> int:
    for number, step in enumerate(procedure.steps, start=1):
        if not step.run or step.command is None:
            continue
        console.print(f"\n[bold]running step {number}:[/bold] ", end="")
        console.print(step.title, markup=False, highlight=False)
        result = run_command(step.command)
        if result.returncode != 0:
            errors.print(
                f"[red]error:[/red] step {number} failed (exit {result.returncode}); the "
                "remaining steps were not run",
                highlight=False,
            )
            return EXIT_FAILED
    console.print("\n[green]done.[/green] The manual steps (verify, cut over) are above.")
    return EXIT_OK


# -- command line --------------------------------------------------------------------


def _parser(stacks: Sequence[str]) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--stack", required=True, help=f"one of: {', '.join(stacks)}")
    common.add_argument(
        "--execute",
        action="store_true",
        help="run the 'run' steps after printing them (needs aws on PATH)",
    )
    common.add_argument(
        "--from-outputs",
        type=Path,
        metavar="FILE",
        help="pulumi stack output --json of the deployed stack: its values replace the mocks'",
    )
    common.add_argument(
        "--from-state",
        type=Path,
        metavar="FILE",
        help="pulumi stack export of the deployed stack: every resource's deployed names",
    )
    parser = argparse.ArgumentParser(
        prog="python -m tools.restore",
        description="Print (or run) the steps that restore a store of a stack.",
    )
    kinds = parser.add_subparsers(dest="kind", required=True)
    rds = kinds.add_parser("rds-pitr", parents=[common], help="PostgreSQL point-in-time restore")
    rds.add_argument("--to", required=True, help="restore time, ISO 8601 UTC (…Z)")
    rds.add_argument("--target-id", help="new instance (default <source>-pitr-<yyyymmddhhmm>)")
    redis = kinds.add_parser("redis-snapshot", parents=[common], help="cache from a snapshot")
    redis.add_argument("--snapshot", required=True, help="ElastiCache snapshot name")
    redis.add_argument(
        "--target-id",
        help="new group id (default <group>-r<yymmddhhmm>; the group's own id: in place)",
    )
    velero = kinds.add_parser("velero-namespace", parents=[common], help="namespace via Velero")
    velero.add_argument("--namespace", required=True)
    velero.add_argument("--backup", help="backup name (default: the latest completed one)")
    velero.add_argument(
        "--namespace-mappings", metavar="NS:NEW", help="restore side by side into NEW"
    )
    s3 = kinds.add_parser("s3-object-version", parents=[common], help="an earlier object version")
    s3.add_argument("--bucket", required=True, help="purpose (backups), logical or bucket name")
    s3.add_argument("--key", required=True)
    which = s3.add_mutually_exclusive_group(required=True)
    which.add_argument("--version-id")
    which.add_argument("--before", help="newest version written before this ISO 8601 UTC time")
    return parser


def build(args: argparse.Namespace, plan: Plan, now: datetime, deployed: Deployed) -> Procedure:
    if args.kind == "rds-pitr":
        return rds_pitr(
            plan, parse_utc(args.to, "--to"), target_id=args.target_id, now=now, deployed=deployed
        )
    if args.kind == "redis-snapshot":
        return redis_snapshot(
            plan, args.snapshot, target_id=args.target_id, now=now, deployed=deployed
        )
    if args.kind == "velero-namespace":
        return velero_namespace(
            plan,
            args.namespace,
            backup=args.backup,
            mapping=args.namespace_mappings,
            now=now,
            deployed=deployed,
        )
    before = parse_utc(args.before, "--before") if args.before else None
    return s3_object_version(
        plan, args.bucket, args.key, version_id=args.version_id, before=before, deployed=deployed
    )


def _resolve_version(
    procedure: Procedure, args: argparse.Namespace, plan: Plan, deployed: Deployed
) -> Procedure:
    """``--before`` with ``--execute``: list the versions, pick one, rebuild the steps."""
    listed = run_command(procedure.steps[0].command, capture=True)  # type: ignore[arg-type]
    if listed.returncode != 0:
        raise RestoreError(f"--before: listing the versions failed: {listed.stderr.strip()}")
    version = pick_version(json.loads(listed.stdout or "{}"), parse_utc(args.before, "--before"))
    return s3_object_version(plan, args.bucket, args.key, version_id=version, deployed=deployed)


def main(
    argv: list[str] | None = None,
    *,
    load_plan: Callable[[str], Plan] | None = None,
    now: datetime | None = None,
    root: Path = ROOT,
) -> int:
    stacks = available_stacks(root)
    try:
        args = _parser(stacks).parse_args(argv)
    except SystemExit as exc:  # argparse has printed its usage line
        return int(exc.code or 0)
    console = Console(soft_wrap=True)
    errors = Console(stderr=True, soft_wrap=True)
    try:
        if args.stack not in stacks:
            raise RestoreError(f"--stack {args.stack}: unknown stack; one of: {', '.join(stacks)}")
        deployed = Deployed.load(args.from_outputs, args.from_state)
        plan = (load_plan or (lambda stack: synth(stack, root)))(args.stack)
        procedure = build(args, plan, now or datetime.now(UTC), deployed)
        if args.execute:
            missing = missing_programs(procedure)
            if missing:
                raise RestoreError(
                    f"--execute: {', '.join(missing)} not on PATH; install it or drop --execute "
                    "to print the steps"
                )
            if args.kind == "s3-object-version" and args.before:
                procedure = _resolve_version(procedure, args, plan, deployed)
        show(procedure, console, execute=args.execute)
        if args.execute:
            return execute(procedure, console, errors)
        return EXIT_OK
    except (RestoreError, StackConfigError, SynthError) as exc:
        errors.print("[red]error:[/red] ", end="")
        errors.print(str(exc), markup=False, highlight=False)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
