"""``python -m tools.diff <stack> --base <rev> [--at desired] [--json PATH]``: review a change.

Synthesizes the stack at a git revision (in a temporary ``git worktree``) and in the working
tree, each in a subprocess of this interpreter, in parallel, and shows what the change would
do: resources created, deleted, updated (with the changed input paths) and replaced (an input
the provider cannot change in place), protected resources that would be replaced first,
renames without an alias (a delete and a create) of protected or stateful resources, and the
monthly cost delta priced from ``tools/prices.json``. Exit codes: 0 ok, 2 a bad input
(unknown stack or revision, a stack that fails to synthesize, --json path).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from tools.cost import SCALING_KEYS, Estimate, UnpricedError, estimate, money
from tools.synth import ROOT, STACK_TYPE, Plan, PlannedResource

EXIT_OK = 0
EXIT_USAGE = 2

# Input paths (camelCase, as the engine receives them) whose change makes pulumi-aws replace
# the resource: the bridged Terraform schema marks them ForceNew. Node group, RDS instance
# and bucket policy were read in the terraform-provider-aws source; the others are recorded,
# not re-read (docs/cost.md names the files and commits). A change to a path below a listed
# one replaces too.
REPLACE_ON_CHANGE: dict[str, tuple[str, ...]] = {
    "aws:eks/nodeGroup:NodeGroup": (
        "amiType",
        "capacityType",
        "clusterName",
        "diskSize",
        "instanceTypes",
        "launchTemplate.id",
        "launchTemplate.name",
        "nodeGroupName",
        "nodeGroupNamePrefix",
        "nodeRoleArn",
        "remoteAccess",
        "subnetIds",
    ),
    "aws:rds/instance:Instance": (
        "availabilityZone",
        "characterSetName",
        "customIamInstanceProfile",
        "dbName",
        "engine",
        "identifier",
        "identifierPrefix",
        "kmsKeyId",
        "ncharCharacterSetName",
        "restoreToPointInTime",
        "s3Import",
        "snapshotIdentifier",
        "storageEncrypted",
        "timezone",
        "username",
    ),
    "aws:elasticache/replicationGroup:ReplicationGroup": (
        "atRestEncryptionEnabled",
        "dataTieringEnabled",
        "globalReplicationGroupId",
        "kmsKeyId",
        "networkType",
        "port",
        "replicationGroupId",
        "securityGroupNames",
        "snapshotArns",
        "snapshotName",
        "subnetGroupName",
    ),
    "aws:msk/cluster:Cluster": (
        "brokerNodeGroupInfo.azDistribution",
        "brokerNodeGroupInfo.clientSubnets",
        "brokerNodeGroupInfo.securityGroups",
        "clusterName",
        "encryptionInfo.encryptionAtRestKmsKeyArn",
    ),
    "aws:opensearch/domain:Domain": ("domainName", "encryptAtRest.kmsKeyId"),
    "aws:eks/cluster:Cluster": (
        "accessConfig.bootstrapClusterCreatorAdminPermissions",
        "bootstrapSelfManagedAddons",
        "kubernetesNetworkConfig.ipFamily",
        "kubernetesNetworkConfig.serviceIpv4Cidr",
        "name",
        "outpostConfig",
        "remoteNetworkConfig",
        "roleArn",
    ),
    # pulumi-eks passes these through to the aws.eks.Cluster it creates.
    "eks:index:Cluster": (
        "bootstrapSelfManagedAddons",
        "ipFamily",
        "kubernetesServiceIpAddressRange",
        "name",
    ),
    "aws:s3/bucket:Bucket": ("bucket", "bucketPrefix", "objectLockEnabled"),
    # A bucket's settings are resources of their own keyed by the bucket's name: renaming the
    # bucket replaces each of them (bucket_policy.go read; the others share the pattern).
    **{
        f"aws:s3/{kind}:{kind[0].upper()}{kind[1:]}": ("bucket",)
        for kind in (
            "bucketPolicy",
            "bucketVersioning",
            "bucketPublicAccessBlock",
            "bucketOwnershipControls",
            "bucketLogging",
            "bucketLifecycleConfiguration",
            "bucketServerSideEncryptionConfiguration",
            "bucketObjectLockConfiguration",
        )
    },
    "aws:kms/key:Key": (
        "customKeyStoreId",
        "customerMasterKeySpec",
        "keySpec",
        "keyUsage",
        "multiRegion",
        "xksKeyId",
    ),
    "aws:ec2/vpc:Vpc": ("cidrBlock", "ipv4IpamPoolId", "ipv4NetmaskLength"),
    "aws:ec2/subnet:Subnet": (
        "availabilityZone",
        "availabilityZoneId",
        "cidrBlock",
        "outpostArn",
        "vpcId",
    ),
}
# Blocks whose addition or removal replaces, while changes inside them update in place.
REPLACE_ON_PRESENCE: dict[str, tuple[str, ...]] = {
    "aws:opensearch/domain:Domain": ("vpcOptions",),
    "aws:eks/cluster:Cluster": ("encryptionConfig",),
    "eks:index:Cluster": ("encryptionConfigKeyArn",),
}
# Types whose deletion loses data or identity: a rename without an alias is flagged.
STATEFUL_TYPES = frozenset(
    {
        "aws:rds/instance:Instance",
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "aws:msk/cluster:Cluster",
        "aws:opensearch/domain:Domain",
        "aws:s3/bucket:Bucket",
        "aws:kms/key:Key",
        "eks:index:Cluster",
        "aws:eks/cluster:Cluster",
        "aws:secretsmanager/secret:Secret",
        "aws:route53/zone:Zone",
        "aws:cloudwatch/logGroup:LogGroup",
    }
)
# A deleted and a created resource of one type sharing this much of their inputs are one
# resource renamed.
RENAME_SIMILARITY = 0.5

# Runs in the base worktree: only what every revision's synth offers (synth, Plan.to_json).
BASE_SYNTH = (
    "import json, sys\n"
    "from tools.synth import synth\n"
    "json.dump(synth(sys.argv[1]).to_json(), open(sys.argv[2], 'w'))\n"
)


class DiffError(Exception):
    """A revision or stack that cannot be synthesized: the message is for the user."""


@dataclass(frozen=True)
class Change:
    kind: str  # create, delete, update, replace
    urn: str
    type: str
    name: str
    protect: bool
    paths: list[str] = field(default_factory=list)
    replace_paths: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Rename:
    type: str
    old: str
    new: str
    protect: bool
    stateful: bool


@dataclass
class PlanDiff:
    stack: str
    base: str
    changes: list[Change]
    renames: list[Rename]
    at: str = "desired"
    cost_base: Estimate | None = None
    cost_head: Estimate | None = None
    cost_errors: list[str] = field(default_factory=list)

    def of(self, kind: str) -> list[Change]:
        return [c for c in self.changes if c.kind == kind]

    @property
    def protected_replacements(self) -> list[Change]:
        return [c for c in self.changes if c.kind in ("replace", "delete") and c.protect]

    @property
    def flagged_renames(self) -> list[Rename]:
        return [r for r in self.renames if r.protect or r.stateful]

    @property
    def cost_delta(self) -> float | None:
        if self.cost_base is None or self.cost_head is None:
            return None
        return self.cost_head.total - self.cost_base.total

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "base": self.base,
            "at": self.at,
            "changes": [asdict(c) for c in self.changes],
            "renames": [asdict(r) for r in self.renames],
            "protected_replacements": [c.urn for c in self.protected_replacements],
            "cost": {
                "base_monthly": round(self.cost_base.total, 2) if self.cost_base else None,
                "head_monthly": round(self.cost_head.total, 2) if self.cost_head else None,
                "delta_monthly": None if self.cost_delta is None else round(self.cost_delta, 2),
                "errors": self.cost_errors,
            },
        }


def changed_paths(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted paths (``a.b[2].c``) where two input values differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        paths: list[str] = []
        for key in sorted(set(old) | set(new)):
            path = f"{prefix}.{key}" if prefix else key
            if key not in old or key not in new:
                paths.append(path)
            else:
                paths.extend(changed_paths(old[key], new[key], path))
        return paths
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        paths = []
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            paths.extend(changed_paths(a, b, f"{prefix}[{index}]"))
        return paths
    return [] if old == new else [prefix]


def under(path: str, rule: str) -> bool:
    return path == rule or path.startswith((f"{rule}.", f"{rule}["))


def replacing(type_: str, paths: list[str], old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    rules = REPLACE_ON_CHANGE.get(type_, ())
    # A rule deeper than a changed path counts too: a whole block added or removed.
    found = [p for p in paths if any(under(p, r) or under(r, p) for r in rules)]
    found += [p for p in REPLACE_ON_PRESENCE.get(type_, ()) if (p in old) != (p in new)]
    return sorted(set(found))


def alias_urns(resource: PlannedResource, project: str, stack: str) -> list[str]:
    """The URNs a resource's aliases name, as the engine would build them."""
    urns: list[str] = []
    for alias in resource.aliases:
        if "urn" in alias:
            urns.append(alias["urn"])
            continue
        spec = alias.get("spec", {})
        parent = None if spec.get("noParent") else spec.get("parentUrn", resource.parent)
        type_ = spec.get("type", resource.type)
        if parent and parent.split("::")[2] != STACK_TYPE:
            type_ = f"{parent.split('::')[2]}${type_}"
        name = spec.get("name", resource.name)
        urns.append(
            f"urn:pulumi:{spec.get('stack', stack)}::{spec.get('project', project)}"
            f"::{type_}::{name}"
        )
    return urns


def similarity(a: dict[str, Any], b: dict[str, Any]) -> float:
    keys = set(a) | set(b)
    return sum(1 for k in keys if a.get(k) == b.get(k)) / len(keys) if keys else 1.0


def diff_plans(base: Plan, head: Plan) -> tuple[list[Change], list[Rename]]:
    old = {r.urn: r for r in base.resources}
    new = {r.urn: r for r in head.resources}
    pairs: dict[str, str] = {urn: urn for urn in new if urn in old}
    for resource in head.resources:
        if resource.urn in pairs:
            continue
        for urn in alias_urns(resource, head.project, head.stack):
            if urn in old and urn not in new:
                pairs[resource.urn] = urn
                break
    matched_old = set(pairs.values())
    changes: list[Change] = []
    for new_urn, old_urn in sorted(pairs.items()):
        before, after = old[old_urn], new[new_urn]
        paths = [
            p
            for p in changed_paths(before.inputs, after.inputs)
            if not any(under(p, ignored) for ignored in after.ignore_changes)
        ]
        if not paths:
            continue
        replace = replacing(after.type, paths, before.inputs, after.inputs)
        changes.append(
            Change(
                "replace" if replace else "update",
                new_urn,
                after.type,
                after.name,
                before.protect or after.protect,
                paths,
                replace,
            )
        )
    created = [r for urn, r in sorted(new.items()) if urn not in pairs]
    deleted = [r for urn, r in sorted(old.items()) if urn not in matched_old]
    changes += [Change("create", r.urn, r.type, r.name, r.protect) for r in created]
    changes += [Change("delete", r.urn, r.type, r.name, r.protect) for r in deleted]
    renames: list[Rename] = []
    available = list(created)
    for gone in deleted:
        candidates = [r for r in available if r.type == gone.type]
        best = max(candidates, key=lambda r: similarity(gone.inputs, r.inputs), default=None)
        if best is None or similarity(gone.inputs, best.inputs) < RENAME_SIMILARITY:
            continue
        available.remove(best)
        renames.append(
            Rename(gone.type, gone.name, best.name, gone.protect, gone.type in STATEFUL_TYPES)
        )
    return changes, renames


def plan_from_json(data: dict[str, Any]) -> Plan:
    """A plan JSON (``tools.plan --json``) as a Plan; fields a revision lacks take defaults."""
    known = {f.name for f in fields(PlannedResource)}
    resources = [
        PlannedResource(**{k: v for k, v in r.items() if k in known}) for r in data["resources"]
    ]
    project = resources[0].urn.split("::")[1] if resources else ""
    return Plan(
        stack=data["stack"], project=project, resources=resources, outputs=data.get("outputs", {})
    )


def git(*args: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise DiffError(f"git {' '.join(args)}: {reason}")
    return done.stdout.strip()


def start_synth(tree: Path, stack: str, out: Path) -> subprocess.Popen[str]:
    """Synthesize ``stack`` as the code in ``tree`` has it, in a subprocess of this
    interpreter (so with this venv) whose working directory is ``tree``."""
    return subprocess.Popen(
        [sys.executable, "-c", BASE_SYNTH, stack, str(out)],
        cwd=tree,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish_synth(process: subprocess.Popen[str], out: Path, label: str) -> Plan:
    _, stderr = process.communicate()
    if process.returncode != 0:
        last = (stderr.strip().splitlines() or ["no output"])[-1]
        raise DiffError(f"{label} does not synthesize: {last}")
    return plan_from_json(json.loads(out.read_text()))


def synthesize_both(
    stack: str, commit: str, root: Path, head: Plan | None = None
) -> tuple[Plan, Plan]:
    """The stack at ``commit`` (a temporary detached worktree) and in ``root``, in parallel;
    ``head``, when given, is ``root``'s plan already synthesized."""
    with tempfile.TemporaryDirectory(prefix="agentfactory-diff-") as tmp:
        tree = Path(tmp) / "base"
        git("worktree", "add", "--detach", str(tree), commit, cwd=root)
        processes: list[subprocess.Popen[str]] = []
        try:
            head_run = None
            if head is None:
                head_run = start_synth(root, stack, Path(tmp) / "head.json")
                processes.append(head_run)
            # A stack new in this change has nothing at base.
            base = Plan(stack=stack, project="", resources=[], outputs={})
            if (tree / f"Pulumi.{stack}.yaml").is_file():
                base_run = start_synth(tree, stack, Path(tmp) / "base.json")
                processes.append(base_run)
                base = finish_synth(base_run, Path(tmp) / "base.json", f"{stack} at {commit[:12]}")
            if head_run is not None:
                head = finish_synth(head_run, Path(tmp) / "head.json", f"{stack} in {root}")
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait()
            git("worktree", "remove", "--force", str(tree), cwd=root)
    if head is None:  # finish_synth returns a plan or raises
        raise DiffError(f"{stack}: no plan of the working tree")
    return base, head


def review(
    stack: str, rev: str, at: str = "desired", root: Path = ROOT, head: Plan | None = None
) -> PlanDiff:
    """``stack`` at ``rev`` against ``root``'s working tree (or ``head``, its plan)."""
    commit = git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", cwd=root)
    base, head = synthesize_both(stack, commit, root, head)
    changes, renames = diff_plans(base, head)
    result = PlanDiff(stack, commit, changes, renames, at)
    for side, plan in (("base", base), ("head", head)):
        try:
            # A stack new at head costs nothing at base.
            priced = estimate(plan, at) if plan.resources else Estimate(stack, "", at, 0.0)
        except UnpricedError as exc:
            result.cost_errors.append(f"{side}: {exc}")
            continue
        if side == "base":
            result.cost_base = priced
        else:
            result.cost_head = priced
    return result


KIND_STYLE = {"replace": "magenta", "delete": "red", "create": "green", "update": "yellow"}


def render(result: PlanDiff, console: Console) -> None:
    counts = ", ".join(
        f"{len(result.of(k))} to {k}" for k in ("create", "update", "replace", "delete")
    )
    console.print(f"[bold]{result.stack}[/bold] against {result.base[:12]}: {counts}")
    for change in result.protected_replacements:
        console.print(
            f"[bold red]PROTECTED {change.kind}: {change.type} {change.name}[/bold red]"
            + (f" (forced by {', '.join(change.replace_paths)})" if change.replace_paths else "")
        )
    for rename in result.flagged_renames:
        why = "protected" if rename.protect else "stateful"
        console.print(
            f"[bold red]renamed without an alias ({why}): {rename.type} "
            f"{rename.old} -> {rename.new} is a delete and a create[/bold red]"
        )
    if result.changes:
        table = Table(title="changes")
        for column in ("", "type", "name", "changed inputs"):
            table.add_column(column)
        order = {"replace": 0, "delete": 1, "create": 2, "update": 3}
        protected = result.protected_replacements
        for change in sorted(
            result.changes, key=lambda c: (c not in protected, order[c.kind], c.type, c.name)
        ):
            style = KIND_STYLE[change.kind]
            paths = ", ".join(
                f"[bold]{p}[/bold]" if p in change.replace_paths else p for p in change.paths
            )
            mark = " (protected)" if change in protected else ""
            table.add_row(
                f"[{style}]{change.kind}{mark}[/{style}]", change.type, change.name, paths
            )
        console.print(table)
    render_cost(result, console)


def render_cost(result: PlanDiff, console: Console) -> None:
    for error in result.cost_errors:
        console.print(f"[yellow]cost {error}[/yellow]")
    if result.cost_base is None or result.cost_head is None:
        return
    delta = result.cost_head.total - result.cost_base.total
    console.print(
        f"monthly cost at {result.at} size: {money(result.cost_base.total)} -> "
        f"{money(result.cost_head.total)} ([bold]{signed(delta)}[/bold])"
    )
    old = result.cost_base.by_component()
    new = result.cost_head.by_component()
    for component in sorted(set(old) | set(new)):
        change = new.get(component, 0.0) - old.get(component, 0.0)
        if abs(change) >= 0.005:
            console.print(f"  {component}: {signed(change)}")


def signed(value: float) -> str:
    return f"{'+' if value >= 0 else '-'}{money(abs(value))}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.diff", description=__doc__.split("\n")[0]
    )
    parser.add_argument("stack")
    parser.add_argument("--base", required=True, help="git revision to compare against")
    parser.add_argument(
        "--at",
        choices=sorted(SCALING_KEYS),
        default="desired",
        help="node group size for the cost delta (default: desired)",
    )
    parser.add_argument("--json", type=Path, help="also write the diff as JSON")
    args = parser.parse_args(argv)
    errors = Console(stderr=True)
    try:
        result = review(args.stack, args.base, args.at)
    except DiffError as exc:
        errors.print(f"[red]error:[/red] {exc}")
        return EXIT_USAGE
    render(result, Console())
    if args.json:
        try:
            args.json.write_text(json.dumps(result.to_json(), indent=2) + "\n")
        except OSError as exc:
            errors.print(f"[red]error:[/red] --json {args.json}: {exc.strerror}")
            return EXIT_USAGE
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
