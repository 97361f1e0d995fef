"""Kyverno admission: the release, its webhooks' reach, its IAM, and what its policies admit.

Kyverno's CLI is not installable here and the chart (with the ClusterPolicy CRD) cannot be
fetched offline, so the policy documents are checked two ways:

- by schema: ``CLUSTER_POLICY_SUBSET`` is the part of the ``kyverno.io/v1`` ClusterPolicy
  openAPIV3Schema these policies use, field by field from Kyverno's docs for 1.13+
  (kyverno.io/docs/policy-types/cluster-policy: policy-settings, verify-images, validate,
  pod-security) with the CRD's enums (failureAction Audit/Enforce, failurePolicy
  Ignore/Fail, verifyImages type Cosign/SigstoreBundle/Notary, registry credential
  providers default/amazon/azure/google/github, podSecurity level
  privileged/baseline/restricted) and the API server's 1-30 s webhook timeout. Unlike the
  CRD (which preserves unknown fields in places) it closes every object it describes, so a
  misspelt or misplaced field (``failurePolicy`` on a rule, the deprecated spec-level
  ``validationFailureAction``) fails here instead of being ignored by the cluster.
- by their rule logic: ``admits`` below evaluates the documents the way Kyverno does for
  what they use (wildcards ``*``/``?``, ``=()`` conditional anchors, list patterns applied
  to every element, ``verifyImages`` imageReferences/verifyDigest/keyless attestors,
  autogen from Pod rules to the Deployment's pod template). ``podSecurity`` is not
  re-implemented: the CrossGuard pack's PSS rules check the same pods in the plan's gate.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jsonschema
import pytest

from components.addons import kyverno
from components.addons.charts import CHARTS
from components.k8s.namespaces import CONTAINER_SECURITY, POD_SECURITY
from components.security.admission import enforced_namespaces, kyverno_alerts
from components.security.admission_policies import (
    ENFORCED_PATTERNS,
    POLICY_NAMES,
    Signer,
    cluster_policies,
)
from components.settings import WORKLOADS, SettingsError, load_settings
from components.settings.admission import GITHUB_ACTIONS_ISSUER, IMAGE_WORKFLOW
from policy.agentfactory_policies.hygiene import DEFAULT_REPOSITORIES
from tests.conftest import ROOT, SERVICES, by_name
from tools.checks import check_order, dependency_closure
from tools.synth import Plan

RELEASE = "kubernetes:helm.sh/v3:Release"
CLUSTER_POLICY = "kubernetes:kyverno.io/v1:ClusterPolicy"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
NAMESPACE = "kubernetes:core/v1:Namespace"
ROLLOUT = "kubernetes:argoproj.io/v1alpha1:Rollout"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
SIGNER = Signer(GITHUB_ACTIONS_ISSUER, IMAGE_WORKFLOW)
DIGEST = "sha256:" + "ab" * 32

# -- schema ---------------------------------------------------------------------------------


def _closed(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    return schema


_STRINGS = {"type": "array", "items": {"type": "string"}, "minItems": 1}
_ACTION = {"enum": ["Audit", "Enforce"]}
_MATCH = _closed(
    {
        "any": {
            "type": "array",
            "items": _closed(
                {"resources": _closed({"kinds": _STRINGS, "namespaces": _STRINGS}, ["kinds"])}
            ),
        }
    },
    ["any"],
)
_KEYLESS = _closed(
    {
        "issuer": {"type": "string", "pattern": "^https://"},
        "subject": {"type": "string"},
        "rekor": _closed({"url": {"type": "string", "pattern": "^https://"}}, ["url"]),
    },
    ["issuer", "subject"],
)
_VERIFY = _closed(
    {
        "type": {"enum": ["Cosign", "SigstoreBundle", "Notary"]},
        "imageReferences": _STRINGS,
        "failureAction": _ACTION,
        "required": {"type": "boolean"},
        "mutateDigest": {"type": "boolean"},
        "verifyDigest": {"type": "boolean"},
        "imageRegistryCredentials": _closed(
            {
                "providers": {
                    "type": "array",
                    "items": {"enum": ["default", "amazon", "azure", "google", "github"]},
                }
            }
        ),
        "attestors": {
            "type": "array",
            "minItems": 1,
            "items": _closed(
                {
                    "count": {"type": "integer", "minimum": 1},
                    "entries": {
                        "type": "array",
                        "minItems": 1,
                        "items": _closed({"keyless": _KEYLESS}, ["keyless"]),
                    },
                },
                ["entries"],
            ),
        },
    },
    ["imageReferences", "attestors"],
)
_VALIDATE = {
    **_closed(
        {
            "failureAction": _ACTION,
            "message": {"type": "string"},
            "pattern": {"type": "object"},
            "podSecurity": _closed(
                {
                    "level": {"enum": ["privileged", "baseline", "restricted"]},
                    "version": {"type": "string", "pattern": r"^(latest|v1\.\d+)$"},
                },
                ["level"],
            ),
        },
        ["failureAction"],
    ),
    # A validate rule declares exactly one way to validate.
    "oneOf": [{"required": ["pattern"]}, {"required": ["podSecurity"]}],
}
_RULE = {
    **_closed(
        {
            "name": {"type": "string", "pattern": "^[a-z0-9-]{1,63}$"},
            "match": _MATCH,
            "validate": _VALIDATE,
            "verifyImages": {"type": "array", "minItems": 1, "items": _VERIFY},
        },
        ["name", "match"],
    ),
    "oneOf": [{"required": ["validate"]}, {"required": ["verifyImages"]}],
}
CLUSTER_POLICY_SUBSET = _closed(
    {
        "apiVersion": {"const": "kyverno.io/v1"},
        "kind": {"const": "ClusterPolicy"},
        "metadata": _closed(
            {
                "name": {"type": "string", "pattern": "^[a-z0-9-]{1,63}$"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            ["name"],
        ),
        "spec": _closed(
            {
                "background": {"type": "boolean"},
                "webhookConfiguration": _closed(
                    {
                        "failurePolicy": {"enum": ["Ignore", "Fail"]},
                        "timeoutSeconds": {"type": "integer", "minimum": 1, "maximum": 30},
                    }
                ),
                "rules": {"type": "array", "minItems": 1, "items": _RULE},
            },
            ["rules"],
        ),
    },
    ["apiVersion", "kind", "metadata", "spec"],
)


@pytest.mark.parametrize("policy", cluster_policies(REGISTRY, SIGNER), ids=POLICY_NAMES)
def test_policies_fit_the_clusterpolicy_schema(policy: dict[str, Any]) -> None:
    jsonschema.validate(policy, CLUSTER_POLICY_SUBSET)
    # Fail closed, in the namespaces the policies own.
    assert policy["spec"]["webhookConfiguration"]["failurePolicy"] == "Fail"
    for rule in policy["spec"]["rules"]:
        assert rule["match"]["any"][0]["resources"]["namespaces"] == list(ENFORCED_PATTERNS)
        for action in _actions(rule):
            assert action == "Enforce"


@pytest.mark.parametrize(
    "breakage",
    [
        # The spec-level field Kyverno 1.13 deprecated.
        lambda p: p["spec"].update(validationFailureAction="Enforce"),
        # failurePolicy belongs to the webhook configuration, not to a rule.
        lambda p: p["spec"]["rules"][0].update(failurePolicy="Fail"),
        lambda p: p["spec"]["webhookConfiguration"].update(timeoutSeconds=45),
        lambda p: p["spec"]["rules"][0].pop("match"),
    ],
)
def test_the_schema_rejects_misplaced_fields(breakage: Callable[[dict[str, Any]], None]) -> None:
    policy = cluster_policies(REGISTRY, SIGNER)[0]
    breakage(policy)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(policy, CLUSTER_POLICY_SUBSET)


def test_audit_mode_only_reports() -> None:
    for policy in cluster_policies(REGISTRY, SIGNER, "Audit"):
        jsonschema.validate(policy, CLUSTER_POLICY_SUBSET)
        for rule in policy["spec"]["rules"]:
            assert set(_actions(rule)) == {"Audit"}


def _actions(rule: Mapping[str, Any]) -> Iterator[str]:
    if "validate" in rule:
        yield rule["validate"]["failureAction"]
    for verify in rule.get("verifyImages", []):
        yield verify["failureAction"]


# -- Kyverno's rule logic, for what these policies use ------------------------------------


def wildcard(pattern: str, value: str) -> bool:
    """Kyverno's wildcard match: ``*`` any run of characters, ``?`` exactly one."""
    regex = "".join(
        ".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern
    )  # fmt: skip
    return re.fullmatch(regex, value, re.DOTALL) is not None


def _mapping_holds(pattern: Mapping[str, Any], value: Any) -> bool:
    if not isinstance(value, Mapping):
        return False
    for key, sub in pattern.items():
        conditional = key.startswith("=(") and key.endswith(")")
        name = key[2:-1] if conditional else key
        if name not in value:
            if conditional:
                continue
            return False
        if not pattern_holds(sub, value[name]):
            return False
    return True


def pattern_holds(pattern: Any, value: Any) -> bool:
    """A validate pattern: every key must exist and match, ``=(key)`` only where the key
    exists, a one-element list pattern against every element, scalars by wildcard or value."""
    if isinstance(pattern, Mapping):
        return _mapping_holds(pattern, value)
    if isinstance(pattern, list):
        return isinstance(value, list) and all(pattern_holds(pattern[0], item) for item in value)
    if isinstance(pattern, bool) or not isinstance(pattern, str):
        return bool(pattern == value)
    return isinstance(value, str) and wildcard(pattern, value)


def _applies(rule: Mapping[str, Any], kind: str, namespace: str) -> bool:
    return any(
        kind in block["resources"]["kinds"]
        and any(wildcard(p, namespace) for p in block["resources"].get("namespaces", ["*"]))
        for block in rule["match"]["any"]
    )


def _images(pod_spec: Mapping[str, Any]) -> Iterator[str]:
    for field in ("containers", "initContainers", "ephemeralContainers"):
        for container in pod_spec.get(field) or []:
            yield container["image"]


Signatures = Mapping[str, tuple[str, str]]


def _verified(verify: Mapping[str, Any], image: str, signatures: Signatures) -> str | None:
    """Why ``image`` fails the verifyImages entry, or None."""
    if not any(wildcard(ref, image) for ref in verify["imageReferences"]):
        return None
    if verify.get("verifyDigest", True) and "@sha256:" not in image:
        return f"{image}: not pinned by digest"
    signed = signatures.get(image)
    for attestor in verify["attestors"]:
        keyless = [e["keyless"] for e in attestor["entries"]]
        if signed and any(
            k["issuer"] == signed[0] and wildcard(k["subject"], signed[1]) for k in keyless
        ):
            return None
    return f"{image}: no signature from the expected signer" if verify["required"] else None


def admits(
    policies: list[dict[str, Any]],
    kind: str,
    namespace: str,
    pod_spec: Mapping[str, Any],
    signatures: Signatures,
) -> list[str]:
    """Why Kyverno would reject a pod (or a Deployment: autogen applies the Pod rules to
    its template) with ``pod_spec``; empty when it admits it. podSecurity is left out."""
    reasons = []
    for policy in policies:
        for rule in policy["spec"]["rules"]:
            if not _applies(rule, "Pod", namespace) or kind not in ("Pod", "Deployment"):
                continue
            for verify in rule.get("verifyImages", []):
                for image in _images(pod_spec):
                    reason = _verified(verify, image, signatures)
                    if reason and verify["failureAction"] == "Enforce":
                        reasons.append(f"{rule['name']}: {reason}")
            validate = rule.get("validate", {})
            enforced = validate.get("failureAction") == "Enforce"
            if enforced and not pattern_holds(validate.get("pattern", {}), {"spec": pod_spec}):
                reasons.append(f"{rule['name']}: {validate['message']}")
    return reasons


def _pod(*images: str, read_only: bool = True) -> dict[str, Any]:
    context = {**CONTAINER_SECURITY, "readOnlyRootFilesystem": read_only}
    return {
        "securityContext": POD_SECURITY,
        "containers": [
            {"name": f"c{i}", "image": image, "securityContext": context}
            for i, image in enumerate(images)
        ],
    }


POLICIES = cluster_policies(REGISTRY, SIGNER)
SIGNED = f"{REGISTRY}/agent-factory/worker:0.1.0@{DIGEST}"
GOOD = {SIGNED: (GITHUB_ACTIONS_ISSUER, IMAGE_WORKFLOW)}


def test_a_signed_pinned_project_image_is_admitted() -> None:
    assert admits(POLICIES, "Pod", "greenlang-prod", _pod(SIGNED), GOOD) == []
    assert admits(POLICIES, "Deployment", "tenant-acme", _pod(SIGNED), GOOD) == []


@pytest.mark.parametrize(
    ("image", "signer", "reason"),
    [
        # Unsigned.
        (SIGNED, None, "no signature"),
        # Signed from a fork's workflow, or from a branch other than main.
        (
            SIGNED,
            (GITHUB_ACTIONS_ISSUER, IMAGE_WORKFLOW.replace("agent-factory/platform", "evil/x")),
            "no signature",
        ),
        (SIGNED, (GITHUB_ACTIONS_ISSUER, IMAGE_WORKFLOW.replace("main", "dev")), "no signature"),
        # The right subject from another issuer.
        (SIGNED, ("https://accounts.google.com", IMAGE_WORKFLOW), "no signature"),
        # By tag only.
        (f"{REGISTRY}/agent-factory/worker:0.1.0", GOOD[SIGNED], "by digest"),
        # Another registry, another account, a look-alike host: outside the project's
        # registry (the signature rule would not even look at them).
        (f"docker.io/library/nginx:1.27@{DIGEST}", GOOD[SIGNED], "must come from"),
        (
            f"210987654321.dkr.ecr.us-east-1.amazonaws.com/agent-factory/worker@{DIGEST}",
            GOOD[SIGNED],
            "must come from",
        ),
        (f"{REGISTRY}.evil.example/agent-factory/worker@{DIGEST}", GOOD[SIGNED], "must come from"),
        (f"{REGISTRY}/other-team/worker@{DIGEST}", GOOD[SIGNED], "must come from"),
    ],
)
def test_kyverno_rejects_unsigned_or_foreign_images(
    image: str, signer: tuple[str, str] | None, reason: str
) -> None:
    signatures = {k: v for k, v in GOOD.items() if k != image}
    if signer:
        signatures[image] = signer
    for kind, namespace in (("Pod", "greenlang-prod"), ("Deployment", "tenant-acme")):
        reasons = admits(POLICIES, kind, namespace, _pod(SIGNED, image), signatures)
        assert any(reason in r for r in reasons), reasons


def test_an_unsigned_init_container_is_rejected_too() -> None:
    pod = _pod(SIGNED)
    pod["initContainers"] = [
        {"name": "init", "image": f"{REGISTRY}/agent-factory/migrate@{DIGEST}"}
    ]
    assert any("no signature" in r for r in admits(POLICIES, "Pod", "greenlang-prod", pod, GOOD))


def test_a_writable_root_filesystem_is_rejected() -> None:
    reasons = admits(POLICIES, "Pod", "greenlang-prod", _pod(SIGNED, read_only=False), GOOD)
    assert reasons == ["read-only-root-filesystem: " + _message("read-only-root-filesystem")]


def _message(rule_name: str) -> str:
    return next(
        r["validate"]["message"]
        for p in POLICIES
        for r in p["spec"]["rules"]
        if r["name"] == rule_name
    )


@pytest.mark.parametrize(
    "namespace",
    ["kube-system", "kyverno", "monitoring", "ingress-nginx", "cert-manager", "keda", "default"],
)
def test_system_and_addon_namespaces_are_not_matched(namespace: str) -> None:
    unsigned = _pod("docker.io/library/busybox:latest", read_only=False)
    assert admits(POLICIES, "Pod", namespace, unsigned, {}) == []


def test_wildcards_behave_like_kyvernos() -> None:
    assert wildcard("greenlang-*", "greenlang-prod")
    assert not wildcard("greenlang-*", "greenlang")
    assert not wildcard("tenant-*", "xtenant-acme")
    assert wildcard("a?c", "abc") and not wildcard("a?c", "ac")
    assert wildcard(f"{REGISTRY}/agent-factory/*", f"{REGISTRY}/agent-factory/a/b:1@{DIGEST}")


# -- the plan -------------------------------------------------------------------------------


def _release(plan: Plan) -> dict[str, Any]:
    inputs: dict[str, Any] = by_name(plan, RELEASE)[f"{plan.stack}-admission-kyverno"].inputs
    return inputs


def _namespaces(plan: Plan) -> list[str]:
    return [r.inputs["metadata"]["name"] for r in plan.by_type(NAMESPACE)]


def test_chart_is_pinned_from_an_allowed_repository() -> None:
    chart = CHARTS["kyverno"]
    assert (chart.version, chart.repo) == ("3.7.2", "https://kyverno.github.io/kyverno/")
    assert chart.repo.rstrip("/") in DEFAULT_REPOSITORIES


@pytest.mark.parametrize(("stack", "replicas"), [("prod", 3), ("dev", 1)])
def test_release_values(plan_of: Callable[[str], Plan], stack: str, replicas: int) -> None:
    plan = plan_of(stack)
    release = _release(plan)
    assert (release["chart"], release["version"], release["namespace"]) == (
        "kyverno",
        "3.7.2",
        "kyverno",
    )
    values = release["values"]
    admission = values["admissionController"]
    assert admission["replicas"] == replicas
    assert admission["podDisruptionBudget"]["enabled"] is (replicas > 1)
    assert admission["podSecurityContext"] == POD_SECURITY
    assert admission["container"]["securityContext"] == CONTAINER_SECURITY
    assert values["backgroundController"] == {"enabled": False}
    assert values["cleanupController"] == {"enabled": False}
    # The footprint the quota check counts is the one the values describe.
    workloads = {w.name: w for w in kyverno.footprint(replicas).workloads}
    assert workloads["admission-controller"].replicas == replicas
    assert values["reportsController"]["replicas"] == workloads["reports-controller"].replicas


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_webhooks_see_only_the_enforced_namespaces(
    plan_of: Callable[[str], Plan], stack: str
) -> None:
    plan = plan_of(stack)
    (expression,) = _release(plan)["values"]["config"]["webhooks"]["namespaceSelector"][
        "matchExpressions"
    ]
    assert (expression["key"], expression["operator"]) == ("kubernetes.io/metadata.name", "In")
    selected = set(expression["values"])
    namespaces = _namespaces(plan)
    matched = {n for n in namespaces if any(wildcard(p, n) for p in ENFORCED_PATTERNS)}
    # Every workload namespace is both sent to Kyverno and matched by its policies ...
    assert selected == matched == set(enforced_namespaces(namespaces))
    assert {f"greenlang-{stack}", "greenlang-system"} <= selected
    if stack == "prod":
        assert any(n.startswith("tenant-") for n in selected)
    # ... and nothing else is: kube-system, kyverno and every add-on namespace stay out.
    assert not selected & set(kyverno.SYSTEM_NAMESPACES)
    assert not selected & {"monitoring", "logging", "ingress-nginx", "cert-manager", "keda"}


def test_policies_wait_for_the_release_and_match_the_registry(
    plan_of: Callable[[str], Plan],
) -> None:
    plan = plan_of("prod")
    release = by_name(plan, RELEASE)["prod-admission-kyverno"]
    closure = dependency_closure(plan)
    policies = plan.by_type(CLUSTER_POLICY)
    assert sorted(p.inputs["metadata"]["name"] for p in policies) == sorted(POLICY_NAMES)
    for policy in policies:
        assert release.urn in closure[policy.urn]
    assert not [f for f in check_order(plan)[0] if "kyverno" in f.message]
    (verify,) = [p for p in policies if p.inputs["metadata"]["name"] == POLICY_NAMES[0]]
    (rule,) = verify.inputs["spec"]["rules"]
    keyless = rule["verifyImages"][0]["attestors"][0]["entries"][0]["keyless"]
    assert (keyless["issuer"], keyless["subject"]) == (GITHUB_ACTIONS_ISSUER, IMAGE_WORKFLOW)
    assert rule["verifyImages"][0]["imageReferences"] == [f"{REGISTRY}/agent-factory/*"]


def test_the_services_pods_pass_the_policies(plan_of: Callable[[str], Plan]) -> None:
    """charts/agent-factory runs in greenlang-<env>: with the stack's digest pins and the
    workflow's signatures its pods are admitted; without signatures they are not. Kyverno
    writes its Pod rules for Deployments too; a Rollout's pods meet them as Pods."""
    plan = plan_of("prod")
    policies = [
        {"spec": p.inputs["spec"], "metadata": p.inputs["metadata"]}
        for p in plan.by_type(CLUSTER_POLICY)
    ]
    workloads = [
        (kind, w)
        for kind, type_ in (("Deployment", DEPLOYMENT), ("Pod", ROLLOUT))
        for w in plan.by_type(type_)
        if w.inputs["metadata"]["namespace"] == "greenlang-prod"
    ]
    assert sorted(w.inputs["metadata"]["name"] for _, w in workloads) == sorted(WORKLOADS)
    for kind, workload in workloads:
        spec = workload.inputs["spec"]["template"]["spec"]
        signed = {image: (GITHUB_ACTIONS_ISSUER, IMAGE_WORKFLOW) for image in _images(spec)}
        assert admits(policies, kind, "greenlang-prod", spec, signed) == []
        assert admits(policies, kind, "greenlang-prod", spec, {})


def test_kyverno_reads_only_the_project_repositories(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    role = by_name(plan, ROLE)["prod-admission-kyverno-role"]
    trust = json.loads(role.inputs["assumeRolePolicy"])
    condition = json.dumps(trust["Statement"][0]["Condition"])
    assert f"system:serviceaccount:kyverno:{kyverno.SERVICE_ACCOUNT}" in condition
    document = json.loads(
        by_name(plan, ROLE_POLICY)["prod-admission-kyverno-policy"].inputs["policy"]
    )
    actions = {a for s in document["Statement"] for a in _list(s["Action"])}
    assert all(a.startswith(("ecr:Get", "ecr:Batch", "ecr:Describe")) for a in actions)
    for statement in document["Statement"]:
        if statement["Resource"] == "*":
            assert statement["Action"] == "ecr:GetAuthorizationToken"
        else:
            assert statement["Resource"] == (
                "arn:aws:ecr:us-east-1:123456789012:repository/agent-factory/*"
            )
    annotations = _release(plan)["values"]["admissionController"]["rbac"]["serviceAccount"]
    assert annotations["annotations"]["eks.amazonaws.com/role-arn"]


def _list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def test_kyverno_alerts_have_runbooks_and_a_break_glass_procedure() -> None:
    runbooks = ROOT / "docs" / "runbooks"
    for alert in kyverno_alerts():
        text = (runbooks / f"{alert.runbook}.md").read_text()
        assert "## Check" in text and "## Act" in text
    assert "security.admission.enforce false" in (runbooks / "kyverno-break-glass.md").read_text()


# -- settings -------------------------------------------------------------------------------


def test_signer_defaults_and_a_bad_subject_names_the_key() -> None:
    base = {
        "environment": "prod",
        "team": "platform-sre",
        "costCenter": "agent-factory",
        "account": "prod",
        "services": SERVICES,
    }
    settings = load_settings("prod", "us-east-1", base).security.admission
    assert (settings.enforce, settings.signer_subject, settings.signer_issuer) == (
        True,
        IMAGE_WORKFLOW,
        GITHUB_ACTIONS_ISSUER,
    )
    with pytest.raises(SettingsError) as caught:
        load_settings(
            "prod",
            "us-east-1",
            {**base, "security": {"admission": {"signerSubject": "image.yml@main"}}},
        )
    assert str(caught.value).startswith("agent-factory:security.admission.signerSubject: ")
