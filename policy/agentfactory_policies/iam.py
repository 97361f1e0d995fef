"""IAM: who may assume a role, what its policies allow, and resource policies that would
let the whole internet in."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .core import (
    ACCOUNT_IN_ARN,
    ARN,
    Finding,
    Resource,
    Rule,
    Undecided,
    UnknownRead,
    as_list,
    as_mapping,
    covers_internet,
    guarded,
    is_everyone,
    is_unknown,
    matches,
    principals,
    statements,
)

AREA = "iam"
ROLE = "aws:iam/role:Role"
# Identity policies: type -> the input holding the document.
POLICY_DOCUMENTS = {
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/policy:Policy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}
# Known ways to turn a foothold into more rights (Rhino Security's IAM escalation paths,
# plus the EKS and KMS equivalents). Matched against action patterns: "iam:Put*" counts.
PRIVILEGE_ESCALATION = (
    "iam:AddUserToGroup",
    "iam:AttachGroupPolicy",
    "iam:AttachRolePolicy",
    "iam:AttachUserPolicy",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:CreatePolicyVersion",
    "iam:CreateRole",
    "iam:PassRole",
    "iam:PutGroupPolicy",
    "iam:PutRolePolicy",
    "iam:PutUserPolicy",
    "iam:SetDefaultPolicyVersion",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateLoginProfile",
    "sts:AssumeRole",
    "lambda:UpdateFunctionCode",
    "lambda:CreateFunction",
    "glue:UpdateDevEndpoint",
    "cloudformation:CreateStack",
    "ec2:RunInstances",
    "ssm:SendCommand",
    "ssm:StartSession",
    "eks:AssociateAccessPolicy",
    "eks:CreateAccessEntry",
    "kms:CreateGrant",
    "kms:PutKeyPolicy",
    "s3:PutBucketPolicy",
    "secretsmanager:GetSecretValue",
)
ADMIN_MANAGED_POLICIES = [
    "arn:aws*:iam::aws:policy/AdministratorAccess",
    "arn:aws*:iam::aws:policy/AdministratorAccess-*",
    "arn:aws*:iam::aws:policy/PowerUserAccess",
    "arn:aws*:iam::aws:policy/IAMFullAccess",
    "arn:aws*:iam::aws:policy/job-function/SystemAdministrator",
    "arn:aws*:iam::aws:policy/AWSOrganizationsFullAccess",
]
ATTACHMENTS = {
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "policyArn",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment": "policyArn",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": "policyArn",
    "aws:iam/policyAttachment:PolicyAttachment": "policyArn",
    ROLE: "managedPolicyArns",
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": "policyArns",
}
# Resource policies: type -> the input holding the document.
RESOURCE_POLICIES = {
    "aws:kms/key:Key": "policy",
    "aws:kms/keyPolicy:KeyPolicy": "policy",
    "aws:s3/bucket:Bucket": "policy",
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
    "aws:secretsmanager/secret:Secret": "policy",
    "aws:secretsmanager/secretPolicy:SecretPolicy": "policy",
    "aws:sns/topic:Topic": "policy",
    "aws:sns/topicPolicy:TopicPolicy": "policy",
    "aws:sqs/queue:Queue": "policy",
    "aws:sqs/queuePolicy:QueuePolicy": "policy",
    "aws:opensearch/domain:Domain": "accessPolicies",
    "aws:opensearch/domainPolicy:DomainPolicy": "accessPolicies",
    "aws:ecr/repositoryPolicy:RepositoryPolicy": "policy",
    "aws:efs/fileSystemPolicy:FileSystemPolicy": "policy",
}
# Condition keys that tie a wildcard principal to one account, organisation, network or
# calling resource (S3's and IAM Access Analyzer's definition of "not public").
RESTRICTING_KEYS = frozenset(
    {
        "aws:sourcearn",
        "aws:sourceaccount",
        "aws:sourceowner",
        "aws:sourceorgid",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:principalorgid",
        "aws:userid",
        "aws:sourceip",
        "kms:calleraccount",
        "s3:dataaccesspointaccount",
        "s3:dataaccesspointarn",
    }
)
POSITIVE_OPERATORS = frozenset(
    {"stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike", "ipaddress"}
)
ACCOUNT = re.compile(r"^\d{12}$")


# -- reading documents ------------------------------------------------------------------------


def broad(resource: Any) -> bool:
    """Resource "*", or an ARN that names every resource of its kind or any account
    (arn:aws:s3:::*, arn:aws:iam::*:role/x, arn:aws:kms:us-east-1:1234:key/*)."""
    if is_unknown(resource):
        raise UnknownRead(resource.path)
    text = str(resource).strip()
    if text == "*":
        return True
    arn = ARN.match(text)
    if arn is None:
        return False
    if any("*" in arn[part] for part in ("partition", "service", "account")):
        return True
    rest = arn["resource"]
    if arn["service"] == "s3":
        return "*" in rest.split("/", 1)[0]  # the bucket; object wildcards stay in it
    return rest == "*" or re.fullmatch(r"[A-Za-z0-9_.-]+[/:]\*", rest) is not None


def _documents(r: Resource) -> Iterator[tuple[str, Any]]:
    """(where, document) for each identity policy document the resource carries."""
    if r.type in POLICY_DOCUMENTS:
        key = POLICY_DOCUMENTS[r.type]
        yield key, r.props.get(key)
    elif r.type == ROLE:
        for index, item in enumerate(as_list(r.props.get("inlinePolicies"))):
            inline = as_mapping(item)
            yield f"inlinePolicies[{inline.get('name', index)}]", inline.get("policy")


def _allows(r: Resource) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for where, document in _documents(r):
        for statement in statements(document):
            if statement.get("Effect") == "Allow":
                yield where, statement


def _per_document(r: Resource, check: Any) -> Iterator[Finding]:
    try:
        allows = list(_allows(r))
    except UnknownRead as exc:
        yield Undecided(exc.path)
        return
    for where, statement in allows:
        yield from guarded(check, where, statement)


def iam_no_admin_wildcards(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    def check(where: str, statement: Mapping[str, Any]) -> Iterator[str]:
        actions = as_list(statement.get("Action"))
        if not any(broad(resource) for resource in as_list(statement.get("Resource"))):
            return
        if "*" in actions:
            yield f"{where}: a statement allows Action '*' on every resource"
        for action in actions:
            if str(action).endswith(":*"):
                yield f"{where}: {action} on every resource is broader than any component needs"

    yield from _per_document(r, check)


def iam_no_not_elements(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    def check(where: str, statement: Mapping[str, Any]) -> Iterator[str]:
        for element in ("NotAction", "NotResource", "NotPrincipal"):
            if element in statement:
                yield f"{where}: Allow with {element} grants everything it does not list"

    yield from _per_document(r, check)


def iam_no_privilege_escalation(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    def check(where: str, statement: Mapping[str, Any]) -> Iterator[str]:
        if not any(broad(resource) for resource in as_list(statement.get("Resource"))):
            return
        for action in as_list(statement.get("Action")):
            pattern = str(action).lower()
            hits = [a for a in PRIVILEGE_ESCALATION if matches(a.lower(), [pattern])]
            if hits:
                yield f"{where}: {action} on every resource allows privilege escalation ({hits[0]})"

    yield from _per_document(r, check)


def iam_no_admin_managed_policies(r: Resource, config: Mapping[str, Any]) -> Iterator[Finding]:
    forbidden = list(config.get("forbiddenPolicies", ADMIN_MANAGED_POLICIES))
    key = ATTACHMENTS[r.type]
    try:
        arns = as_list(r.props.get(key))
    except UnknownRead as exc:
        yield Undecided(exc.path)
        return
    for arn in arns:
        if is_unknown(arn):
            yield Undecided(key)
        elif matches(str(arn), forbidden):
            yield f"{arn} grants administrator rights; attach a policy scoped to the task"


# -- trust policies ----------------------------------------------------------------------------


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def own_account(resources: Sequence[Resource], config: Mapping[str, Any]) -> str:
    """The account the stack deploys into: the config's ``accountId``, else the account
    most ARNs of the plan name (the program builds them from the caller's identity, so a
    real preview knows it too). One foreign ARN cannot outvote hundreds of own ones."""
    configured = str(config.get("accountId") or "")
    if configured:
        return configured
    counts: Counter[str] = Counter()
    for r in resources:
        for text in _strings(r.props):
            counts.update(ACCOUNT_IN_ARN.findall(text))
    return counts.most_common(1)[0][0] if counts else ""


def _condition_values(statement: Mapping[str, Any], operators: set[str], key: str) -> list[str]:
    values: list[str] = []
    for operator, block in as_mapping(statement.get("Condition")).items():
        if operator.lower() not in operators:
            continue
        for name, value in as_mapping(block).items():
            if name.lower() == key.lower() or name.lower().endswith(key.lower()):
                values += [str(v) for v in as_list(value)]
    return values


def _account_of(principal: str) -> str:
    if ACCOUNT.match(principal):
        return principal
    arn = ARN.match(principal)
    return arn["account"] if arn else ""


def _trust_statement(statement: Mapping[str, Any], trusted: set[str]) -> Iterator[str]:
    if statement.get("Effect") != "Allow":
        return
    if "NotPrincipal" in statement:
        yield "Allow with NotPrincipal trusts everyone it does not list"
    for kind, value in principals(statement):
        if is_everyone(kind, value):
            yield "trusts every AWS principal ('*')"
        elif kind == "AWS":
            account = _account_of(value)
            if not account or "*" in account or "?" in account:
                yield f"principal {value} names no single account"
            elif account not in trusted:
                external = _condition_values(statement, {"stringequals"}, "sts:ExternalId")
                if not external or any(not v.strip() or "*" in v for v in external):
                    yield (
                        f"account {account} is foreign: require sts:ExternalId "
                        "(StringEquals) or list it in trustedAccounts"
                    )
        elif kind == "Federated" and "oidc-provider/" in value:
            exact = _condition_values(statement, {"stringequals"}, ":sub")
            like = _condition_values(statement, {"stringlike"}, ":sub")
            eks = "oidc.eks." in value
            if eks and (like or not exact):
                yield (
                    "IRSA trust must pin StringEquals <issuer>:sub to "
                    "system:serviceaccount:<namespace>:<name>"
                )
            elif eks and any(
                not v.startswith("system:serviceaccount:")
                or "*" in v
                or "?" in v
                or v.count(":") != 3
                for v in exact
            ):
                yield f"IRSA trust :sub {exact} is not one service account"
            elif not eks and not [v for v in exact + like if v.strip("*")]:
                yield f"web identity trust of {value} does not pin the token's :sub"


def iam_trust_policy(
    resources: Sequence[Resource], config: Mapping[str, Any]
) -> Iterator[tuple[str, Finding]]:
    own = own_account(resources, config)
    trusted = {own, *config.get("trustedAccounts", [])} - {""}
    for r in resources:
        if r.type != ROLE:
            continue

        def check(role: Resource = r) -> Iterator[str]:
            for statement in statements(role.props.get("assumeRolePolicy")):
                yield from _trust_statement(statement, trusted)

        for finding in guarded(check):
            yield r.urn, finding


# -- resource policies ---------------------------------------------------------------------------


def _restricts(statement: Mapping[str, Any]) -> bool:
    """A condition that pins the caller to an account, organisation, network or source."""
    for operator, block in as_mapping(statement.get("Condition")).items():
        op = operator.lower()
        if op.startswith("forallvalues:") or op.endswith("ifexists"):
            continue  # an absent key satisfies these: they restrict nobody
        if op.removeprefix("foranyvalue:") not in POSITIVE_OPERATORS:
            continue
        for key, value in as_mapping(block).items():
            values = [str(v) for v in as_list(value)]
            if key.lower() not in RESTRICTING_KEYS or not values:
                continue
            if key.lower() == "aws:sourceip":
                if not covers_internet(values):
                    return True
            elif not any(v.strip() in ("*", "") for v in values) and not (
                key.lower().endswith(("account", "orgid", "owner"))
                and any("*" in v for v in values)
            ):
                return True
    return False


def resource_policy_not_public(r: Resource, _c: Mapping[str, Any]) -> Iterator[Finding]:
    key = RESOURCE_POLICIES[r.type]

    def check() -> Iterator[str]:
        for statement in statements(r.props.get(key)):
            if statement.get("Effect") != "Allow":
                continue
            public = "NotPrincipal" in statement or any(
                is_everyone(kind, value) for kind, value in principals(statement)
            )
            if public and not _restricts(statement):
                sid = statement.get("Sid", "(no Sid)")
                yield (
                    f"{key} statement {sid} allows every principal without a condition on "
                    "account, organisation, VPC or source"
                )

    yield from guarded(check)


IDENTITY_TYPES = frozenset({*POLICY_DOCUMENTS, ROLE})

RULES = [
    Rule(
        "iam-no-admin-wildcards",
        "IAM policies never allow '*' or 'service:*' on every resource (including ARNs "
        "with wildcards for the account or the whole resource type).",
        "high",
        "List the actions the role needs and scope Resource to ARNs or tag conditions.",
        AREA,
        resource_check=iam_no_admin_wildcards,
        types=IDENTITY_TYPES,
    ),
    Rule(
        "iam-no-not-elements",
        "IAM Allow statements do not use NotAction, NotResource or NotPrincipal.",
        "high",
        "Allow the listed actions on the listed resources; use a Deny for exceptions.",
        AREA,
        resource_check=iam_no_not_elements,
        types=IDENTITY_TYPES,
    ),
    Rule(
        "iam-no-privilege-escalation",
        "IAM policies do not allow privilege-escalation actions (iam:PassRole, "
        "iam:Put*Policy, sts:AssumeRole, ...) on every resource.",
        "critical",
        "Scope the action to the ARNs it needs (the one role to pass, the one secret).",
        AREA,
        resource_check=iam_no_privilege_escalation,
        types=IDENTITY_TYPES,
    ),
    Rule(
        "iam-no-admin-managed-policies",
        "No AWS-managed administrator policy (AdministratorAccess, PowerUserAccess, "
        "IAMFullAccess, ...) is attached.",
        "critical",
        "Attach a policy scoped to what the principal does.",
        AREA,
        resource_check=iam_no_admin_managed_policies,
        types=frozenset(ATTACHMENTS),
        config_schema={
            "forbiddenPolicies": {
                "type": "array",
                "items": {"type": "string"},
                "default": ADMIN_MANAGED_POLICIES,
                "x-relax": "superset",
            }
        },
    ),
    Rule(
        "iam-trust-policy",
        "Role trust policies name no '*' principal, trust foreign accounts only with an "
        "ExternalId or an allow-list, and pin IRSA to one service account.",
        "critical",
        "Trust named principals of this account; for another account require sts:ExternalId "
        "or add it to trustedAccounts; IRSA: StringEquals <issuer>:sub = "
        "system:serviceaccount:<ns>:<name>.",
        AREA,
        stack_check=iam_trust_policy,
        config_schema={
            "accountId": {
                "type": "string",
                "description": "this stack's account (default: the account most ARNs name)",
                "default": "",
                "x-relax": "free",
            },
            "trustedAccounts": {
                "type": "array",
                "items": {"type": "string"},
                "description": "other accounts roles may trust without an ExternalId",
                "default": [],
                "x-relax": "subset",
            },
        },
    ),
    Rule(
        "resource-policy-not-public",
        "Resource policies (KMS, S3, Secrets Manager, SNS, SQS, OpenSearch, ECR, EFS) never "
        "allow every principal without a condition on account, organisation, VPC or source.",
        "critical",
        "Name the principals, or add a condition such as aws:PrincipalAccount / "
        "kms:CallerAccount / aws:SourceArn with fixed values.",
        AREA,
        resource_check=resource_policy_not_public,
        types=frozenset(RESOURCE_POLICIES),
    ),
]
