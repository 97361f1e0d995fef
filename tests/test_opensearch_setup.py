"""OpenSearch setup: the Job's script (signing, requests, idempotence) and the component.

The script is tested against an in-memory domain that answers like the ISM and security
APIs do; no network. The component is synthesized alone under the project's mocks.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from components.observability import opensearch_setup as setup
from components.observability import opensearch_setup_job as job
from tools.gate import POLICY_DIR
from tools.stackconfig import StackConfig
from tools.synth import Plan, PlannedResource, synth_config

sys.path.insert(0, str(POLICY_DIR))
from agentfactory_policies import ALL_RULES
from agentfactory_policies.core import Resource

ADMIN = "arn:aws:iam::123456789012:role/opensearch-admin"
FLUENT = "arn:aws:iam::123456789012:role/fluent-bit"
SRES = ["arn:aws:iam::123456789012:role/sre-b", "arn:aws:iam::123456789012:role/sre-a"]
ENDPOINT = "vpc-af-dev-logs-abc123.us-east-1.es.amazonaws.com"
ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/ABC"


def config(retention: int = 30) -> dict[str, Any]:
    return setup.setup_config(
        ENDPOINT,
        "us-east-1",
        admin_role_arn=ADMIN,
        fluent_bit_role_arn=FLUENT,
        sre_role_arns=SRES,
        retention_days=retention,
    )


# -- SigV4 and STS -------------------------------------------------------------------


def test_sigv4_matches_the_aws_test_suite() -> None:
    # AWS Signature Version 4 test suite, case "get-vanilla".
    headers = job.sign(
        "GET",
        "https://example.amazonaws.com/",
        {},
        b"",
        credentials=job.Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        region="us-east-1",
        now=dt.datetime(2015, 8, 30, 12, 36, tzinfo=dt.UTC),
        service="service",
    )
    assert headers["X-Amz-Date"] == "20150830T123600Z"
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    )


def test_sigv4_with_session_token_wildcard_path_and_query() -> None:
    # Expected values computed with botocore 1.43.11 SigV4Auth for the same inputs.
    credentials = job.Credentials("AKIDEXAMPLE", "secret/key", "tok+en/==")
    now = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
    host = f"https://{ENDPOINT}"
    add = job.sign(
        "POST",
        f"{host}/_plugins/_ism/add/logs-*",
        {"Content-Type": "application/json"},
        b'{"policy_id": "x"}',
        credentials=credentials,
        region="us-east-1",
        now=now,
    )
    assert add["X-Amz-Security-Token"] == "tok+en/=="
    assert "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token" in add["Authorization"]
    assert "/20261201/us-east-1/es/aws4_request" in add["Authorization"]
    assert add["Authorization"].endswith(
        "Signature=b0e9527fc8d38369a1ee4b6594303bb7fb083adcd105e9555adce22320ef8e3e"
    )
    update = job.sign(
        "PUT",
        f"{host}/_plugins/_ism/policies/p?if_seq_no=7&if_primary_term=1",
        {"Content-Type": "application/json"},
        b'{"policy": {}}',
        credentials=credentials,
        region="us-east-1",
        now=now,
    )
    assert update["Authorization"].endswith(
        "Signature=fb6601c88d081b5b77edc06f1b7f142dbf0ea8eaf3b8190c5f3c68a615ab67fe"
    )


def test_canonical_query_sorts_and_encodes() -> None:
    assert job.canonical_query("b=2&a=x y&a=1") == "a=1&a=x%20y&b=2"


def test_assume_role_uses_the_regional_sts_endpoint() -> None:
    url, form = job.assume_role_request(ADMIN, "jwt-token", "eu-west-1")
    assert url == "https://sts.eu-west-1.amazonaws.com/"
    fields = dict(urllib.parse.parse_qsl(form.decode()))
    assert fields == {
        "Action": "AssumeRoleWithWebIdentity",
        "Version": "2011-06-15",
        "RoleArn": ADMIN,
        "RoleSessionName": "opensearch-setup",
        "WebIdentityToken": "jwt-token",
    }


def test_sts_answer_is_parsed() -> None:
    answer = """<AssumeRoleWithWebIdentityResponse
        xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
      <AssumeRoleWithWebIdentityResult>
        <Credentials>
          <SessionToken>token</SessionToken>
          <SecretAccessKey>secret</SecretAccessKey>
          <Expiration>2026-12-01T11:00:00Z</Expiration>
          <AccessKeyId>ASIAEXAMPLE</AccessKeyId>
        </Credentials>
      </AssumeRoleWithWebIdentityResult>
    </AssumeRoleWithWebIdentityResponse>"""
    assert job.parse_credentials(answer) == job.Credentials("ASIAEXAMPLE", "secret", "token")
    with pytest.raises(RuntimeError, match="SessionToken"):
        job.parse_credentials("<R><Credentials><AccessKeyId>a</AccessKeyId></Credentials></R>")


# -- the script against an in-memory domain -------------------------------------------


class FakeDomain:
    """Answers like the ISM and security REST APIs for the paths the script uses."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.roles: dict[str, Any] = {}
        self.mappings: dict[str, dict[str, Any]] = {
            "all_access": {
                "users": ["arn:aws:iam::123456789012:role/opensearch-admin"],
                "backend_roles": [FLUENT, "arn:aws:iam::123456789012:role/old-manual"],
                "hosts": [],
                "reserved": False,
            }
        }
        self.policies: dict[str, dict[str, Any]] = {}
        self.seq_no = 0
        self.indexes = ["logs-2026.11.30"]
        self.managed: dict[str, int] = {}  # index -> seq_no of the policy version it runs
        self.conflict = False

    def __call__(self, method: str, path: str, body: Any) -> job.Response:
        self.calls.append((method, path, body))
        parts = urllib.parse.urlsplit(path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        segments = parts.path.strip("/").split("/")
        if segments[:3] == ["_plugins", "_security", "api"]:
            return self._security(method, segments[3], segments[4], body)
        if segments[:2] == ["_plugins", "_ism"]:
            return self._ism(method, segments[2], segments[3], query, body)
        return job.Response(400, {"error": f"unexpected {method} {path}"})

    def _security(self, method: str, kind: str, name: str, body: Any) -> job.Response:
        store = self.roles if kind == "roles" else self.mappings
        if method == "GET":
            if name not in store:
                return job.Response(404, {"status": "NOT_FOUND"})
            return job.Response(200, {name: store[name]})
        status = 200 if name in store else 201
        store[name] = body
        return job.Response(status, {"status": "OK"})

    def _ism(
        self, method: str, action: str, target: str, query: dict[str, str], body: Any
    ) -> job.Response:
        if action != "policies":
            return (
                self._explain(target)
                if action == "explain"
                else self._managed(action, target, body["policy_id"])
            )
        stored = self.policies.get(target)
        if method == "GET":
            if stored is None:
                return job.Response(404, {"error": "policy not found"})
            # As ISM answers: the stored body plus fields of its own.
            policy = {**stored["policy"], "policy_id": target, "last_updated_time": 1}
            return job.Response(
                200,
                {"_id": target, "_seq_no": stored["seq_no"], "_primary_term": 1, "policy": policy},
            )
        if stored is None and query:
            return job.Response(404, {"error": "policy not found"})
        if stored is not None and (
            self.conflict or query.get("if_seq_no") != str(stored["seq_no"])
        ):
            return job.Response(409, {"error": "version_conflict_engine_exception"})
        self.seq_no += 1
        self.policies[target] = {"policy": body["policy"], "seq_no": self.seq_no}
        return job.Response(
            201 if stored is None else 200,
            {"_id": target, "_seq_no": self.seq_no, "_primary_term": 1},
        )

    def _explain(self, pattern: str) -> job.Response:
        matching = [i for i in self.indexes if re.fullmatch(pattern.replace("*", ".*"), i)]
        if not matching:
            return job.Response(404, {"error": "index_not_found_exception"})
        (policy_id,) = self.policies
        answer: dict[str, Any] = {
            i: {"index": i, "policy_id": policy_id, "policy_seq_no": self.managed[i]}
            if i in self.managed
            else {"index.plugins.index_state_management.policy_id": None}
            for i in matching
        }
        answer["total_managed_indices"] = len(self.managed)
        return job.Response(200, answer)

    def _managed(self, action: str, pattern: str, policy_id: str) -> job.Response:
        """``add`` leaves managed indexes alone; ``change_policy`` moves them all."""
        matching = [i for i in self.indexes if re.fullmatch(pattern.replace("*", ".*"), i)]
        if not matching:
            return job.Response(404, {"error": "index_not_found_exception"})
        version = self.policies[policy_id]["seq_no"]
        moved = [i for i in matching if action == "change_policy" or i not in self.managed]
        self.managed.update(dict.fromkeys(moved, version))
        failed = [
            {"index_name": i, "reason": "This index already has a policy"}
            for i in matching
            if i not in moved
        ]
        return job.Response(
            200,
            {"updated_indices": len(moved), "failures": bool(failed), "failed_indices": failed},
        )

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p, _ in self.calls if m != "GET"]


def test_first_run_creates_roles_mappings_and_policy() -> None:
    domain = FakeDomain()
    job.run(config(30), domain)
    writer = domain.roles[setup.WRITER_ROLE]
    assert writer["cluster_permissions"] == ["indices:data/write/bulk"]
    (permission,) = writer["index_permissions"]
    assert permission["index_patterns"] == ["logs-*"]
    assert not any("read" in a or "delete" in a for a in permission["allowed_actions"])
    assert domain.mappings[setup.WRITER_ROLE]["backend_roles"] == [FLUENT]
    assert domain.mappings[setup.READER_ROLE]["backend_roles"] == sorted(SRES)
    assert domain.mappings["kibana_user"]["backend_roles"] == sorted(SRES)
    # The log shipper no longer holds all_access; the domain's own user entry is kept.
    assert domain.mappings["all_access"] == {
        "backend_roles": [ADMIN],
        "users": [ADMIN],
        "hosts": [],
        "description": "managed by agent-factory opensearch-setup",
    }
    assert domain.mappings["security_manager"]["backend_roles"] == [ADMIN]
    stored = domain.policies[setup.ISM_POLICY_ID]["policy"]
    assert stored["ism_template"] == {"index_patterns": ["logs-*"], "priority": 100}
    assert "[config-sha256:" in stored["description"]
    # The index that existed before the policy is now managed by it.
    assert domain.managed == {"logs-2026.11.30": 1}
    # Security is applied before ISM: the shipper regains write access first.
    paths = [p for _, p in domain.writes()]
    assert paths.index(f"/_plugins/_security/api/rolesmapping/{setup.WRITER_ROLE}") < next(
        i for i, p in enumerate(paths) if p.startswith("/_plugins/_ism/")
    )


def test_second_run_changes_nothing_in_ism() -> None:
    domain = FakeDomain()
    job.run(config(30), domain)
    roles, mappings, seq_no = dict(domain.roles), dict(domain.mappings), domain.seq_no
    domain.calls.clear()
    job.run(config(30), domain)
    assert domain.roles == roles and domain.mappings == mappings
    assert domain.seq_no == seq_no
    ism_writes = [p for m, p in domain.writes() if p.startswith("/_plugins/_ism/")]
    # Only the add, which leaves already-managed indexes alone; no update, no change_policy.
    assert ism_writes == ["/_plugins/_ism/add/logs-*"]


def test_changed_retention_updates_with_seq_no_and_moves_managed_indexes() -> None:
    domain = FakeDomain()
    job.run(config(30), domain)
    domain.calls.clear()
    job.run(config(14), domain)
    updates = [(p, b) for m, p, b in domain.calls if m == "PUT" and p.startswith("/_plugins/_ism/")]
    ((path, body),) = updates
    assert path == f"/_plugins/_ism/policies/{setup.ISM_POLICY_ID}?if_seq_no=1&if_primary_term=1"
    delete = body["policy"]["states"][0]["transitions"][0]
    assert delete == {"state_name": "delete", "conditions": {"min_index_age": "14d"}}
    assert ("POST", "/_plugins/_ism/change_policy/logs-*") in domain.writes()
    assert domain.managed == {"logs-2026.11.30": 2}


def test_indexes_left_on_an_old_version_are_moved_on_the_next_run() -> None:
    domain = FakeDomain()
    job.run(config(30), domain)
    # An earlier run updated the policy and stopped before change_policy.
    changed, seq_no = job.ensure_ism_policy(domain, setup.ISM_POLICY_ID, config(14)["ism_policy"])
    assert (changed, seq_no) == (True, 2)
    assert domain.managed == {"logs-2026.11.30": 1}
    domain.calls.clear()
    job.run(config(14), domain)
    assert ("POST", "/_plugins/_ism/change_policy/logs-*") in domain.writes()
    assert domain.managed == {"logs-2026.11.30": 2}
    assert job.stale_indexes({"total_managed_indices": 0, "x": {"policy_id": "p"}}, "p", 2) == []


def test_concurrent_policy_edit_fails_the_run() -> None:
    domain = FakeDomain()
    job.run(config(30), domain)
    domain.conflict = True
    with pytest.raises(RuntimeError, match="HTTP 409"):
        job.run(config(7), domain)


def test_no_index_yet_is_fine_and_errors_fail() -> None:
    domain = FakeDomain()
    domain.indexes = []
    job.run(config(30), domain)
    assert setup.ISM_POLICY_ID in domain.policies

    def forbidden(method: str, path: str, body: Any) -> job.Response:
        return job.Response(403, {"error": "no permissions for [restapi:admin/roles]"})

    with pytest.raises(RuntimeError, match="put role agentfactory_logs_writer: HTTP 403"):
        job.run(config(30), forbidden)


def test_transport_signs_and_retries_transient_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[urllib.request.Request] = []

    class Answer(io.BytesIO):
        status = 200

        def __enter__(self) -> Answer:
            return self

    def urlopen(request: urllib.request.Request, timeout: float) -> Answer:
        seen.append(request)
        if len(seen) == 1:
            body = io.BytesIO(b'{"error": "busy"}')
            raise urllib.error.HTTPError(request.full_url, 503, "busy", Message(), body)
        return Answer(b'{"status": "OK"}')

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    monkeypatch.setattr(time, "sleep", lambda _s: None)
    call = job.https_transport(f"https://{ENDPOINT}/", "us-east-1", job.Credentials("a", "b", "t"))
    response = call("PUT", "/_plugins/_security/api/roles/x", {"cluster_permissions": []})
    assert response == job.Response(200, {"status": "OK"})
    assert len(seen) == 2
    last = seen[-1]
    assert last.full_url == f"https://{ENDPOINT}/_plugins/_security/api/roles/x"
    assert last.get_method() == "PUT"
    assert last.get_header("Authorization", "").startswith("AWS4-HMAC-SHA256 Credential=a/")
    assert last.get_header("X-amz-security-token") == "t"
    assert json.loads(last.data or b"") == {"cluster_permissions": []}  # type: ignore[arg-type]


# -- what the component asks the script to apply ---------------------------------------


def test_ism_policy_hot_then_delete() -> None:
    policy = setup.ism_policy(30)
    assert policy["default_state"] == "hot"
    assert [s["name"] for s in policy["states"]] == ["hot", "delete"]
    assert policy["states"][0]["transitions"] == [
        {"state_name": "delete", "conditions": {"min_index_age": "30d"}}
    ]
    assert policy["states"][1]["actions"] == [{"delete": {}}]
    warm = setup.ism_policy(30, hot_days=7, warm=True)
    assert [s["name"] for s in warm["states"]] == ["hot", "warm", "delete"]
    assert warm["states"][0]["transitions"][0]["conditions"] == {"min_index_age": "7d"}
    assert warm["states"][1]["actions"] == [{"warm_migration": {}}]
    with pytest.raises(ValueError, match="at least 1"):
        setup.ism_policy(0)
    with pytest.raises(ValueError, match="must exceed hot_days"):
        setup.ism_policy(7, hot_days=7, warm=True)


def test_job_name_follows_script_and_config() -> None:
    script = setup.SCRIPT.read_text()
    name = setup.job_name(script, json.dumps(config(30)))
    assert re.fullmatch(r"opensearch-setup-[0-9a-f]{10}", name)
    assert setup.job_name(script, json.dumps(config(30))) == name
    assert setup.job_name(script, json.dumps(config(14))) != name
    assert setup.job_name(script + "\n", json.dumps(config(30))) != name
    assert setup.job_name(script, json.dumps(config(30)), "python:3.13") != name


# -- the component under mocks ---------------------------------------------------------

PROGRAM = """
import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.iam import OidcProvider
from components.observability.opensearch_setup import (
    OpenSearchSetup, OpenSearchSetupArgs, opensearch_admin_role,
)

provider = k8s.Provider("k8s", kubeconfig="{}")
namespace = k8s.core.v1.Namespace(
    "logging", metadata={"name": "logging"}, opts=pulumi.ResourceOptions(provider=provider)
)
parent = pulumi.ComponentResource("test:index:Parent", "obs")
oidc = OidcProvider(
    "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC",
    "https://oidc.eks.us-east-1.amazonaws.com/id/ABC",
)
admin = opensearch_admin_role("obs-opensearch-admin", oidc, parent=parent)
fluent = aws.iam.Role("fluent-bit", assume_role_policy="{}")
domain = aws.opensearch.Domain("logs", domain_name="af-test-logs")
OpenSearchSetup(
    "obs-opensearch-setup",
    OpenSearchSetupArgs(
        domain_endpoint=domain.endpoint,
        domain_arn=domain.arn,
        region="us-east-1",
        admin_role=admin,
        fluent_bit_role_arn=fluent.arn,
        sre_role_arns=["arn:aws:iam::123456789012:role/sre"],
        retention_days=RETENTION,
        k8s_provider=provider,
        labels={
            "app.kubernetes.io/part-of": "agent-factory",
            "app.kubernetes.io/managed-by": "pulumi",
        },
        namespace_depends_on=[namespace],
    ),
    opts=pulumi.ResourceOptions(parent=parent),
)
"""


def synth_component(tmp: Path, retention: int) -> Plan:
    (tmp / "__main__.py").write_text(PROGRAM.replace("RETENTION", str(retention)))
    return synth_config(
        StackConfig("agent-factory", "test", {"aws:region": "us-east-1"}, ()),
        root=tmp,
        stack_outputs=lambda _stack: None,
    )


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    return synth_component(tmp_path_factory.mktemp("opensearch"), 30)


def one(plan: Plan, type_: str, name: str | None = None) -> PlannedResource:
    found = [r for r in plan.by_type(type_) if name is None or r.name == name]
    assert len(found) == 1, [r.name for r in found]
    return found[0]


def test_everything_lives_in_logging_and_waits_for_it(plan: Plan) -> None:
    namespace = one(plan, "kubernetes:core/v1:Namespace")
    objects = [
        one(plan, "kubernetes:core/v1:ServiceAccount"),
        one(plan, "kubernetes:core/v1:ConfigMap"),
        one(plan, "kubernetes:batch/v1:Job"),
    ]
    component = one(plan, "agentfactory:platform:OpenSearchSetup")
    for resource in objects:
        assert resource.inputs["metadata"]["namespace"] == "logging"
        assert namespace.urn in resource.dependencies
        assert resource.parent == component.urn
        assert resource.name.startswith("obs-opensearch-setup-")
    assert one(plan, "kubernetes:core/v1:ServiceAccount").inputs["metadata"]["name"] == (
        "opensearch-admin"
    )


def test_admin_role_trusts_exactly_one_service_account(plan: Plan) -> None:
    role = one(plan, "aws:iam/role:Role", "obs-opensearch-admin-role")
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"]["StringEquals"] == {
        f"{ISSUER}:sub": "system:serviceaccount:logging:opensearch-admin",
        f"{ISSUER}:aud": "sts.amazonaws.com",
    }
    account = one(plan, "kubernetes:core/v1:ServiceAccount")
    arn = plan.states[role.urn]["arn"]
    assert account.inputs["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": arn}


def test_admin_may_only_get_put_post_on_the_domain(plan: Plan) -> None:
    policy = one(plan, "aws:iam/rolePolicy:RolePolicy")
    domain = one(plan, "aws:opensearch/domain:Domain")
    role = one(plan, "aws:iam/role:Role", "obs-opensearch-admin-role")
    assert policy.inputs["role"] == plan.states[role.urn]["id"]
    document = json.loads(policy.inputs["policy"])
    assert document["Statement"] == [
        {
            "Effect": "Allow",
            "Action": ["es:ESHttpGet", "es:ESHttpPut", "es:ESHttpPost"],
            "Resource": f"{plan.states[domain.urn]['arn']}/*",
        }
    ]


def test_job_is_restricted_bounded_and_named_by_content(plan: Plan) -> None:
    job_resource = one(plan, "kubernetes:batch/v1:Job")
    spec = job_resource.inputs["spec"]
    assert spec["backoffLimit"] == 2
    assert spec["activeDeadlineSeconds"] == 600
    assert job_resource.inputs["metadata"]["annotations"] == {"pulumi.com/replaceUnready": "true"}
    assert spec["ttlSecondsAfterFinished"] == 86400
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["serviceAccountName"] == "opensearch-admin"
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65534,
        "runAsGroup": 65534,
        "fsGroup": 65534,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    (container,) = pod["containers"]
    assert container["image"] == "public.ecr.aws/docker/library/python:3.12.10-slim-bookworm"
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container["resources"] == {
        "requests": {"cpu": "50m", "memory": "64Mi"},
        "limits": {"cpu": "250m", "memory": "128Mi"},
    }
    assert container["command"] == [
        "python3",
        "/opt/setup/opensearch_setup_job.py",
        "/opt/setup/config.json",
    ]
    configmap = one(plan, "kubernetes:core/v1:ConfigMap")
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["setup"]["configMap"]["name"] == configmap.inputs["metadata"]["name"]
    assert "emptyDir" in volumes["tmp"]
    data = configmap.inputs["data"]
    assert data["opensearch_setup_job.py"] == setup.SCRIPT.read_text()
    assert job_resource.inputs["metadata"]["name"] == setup.job_name(
        data["opensearch_setup_job.py"], data["config.json"]
    )
    http = one(plan, "aws:iam/rolePolicy:RolePolicy")
    assert http.urn in job_resource.dependencies


def test_job_passes_the_projects_pod_and_hygiene_rules(plan: Plan) -> None:
    job_resource = one(plan, "kubernetes:batch/v1:Job")
    subject = Resource(
        type=job_resource.type,
        name=job_resource.name,
        urn=job_resource.urn,
        props=job_resource.inputs,
    )
    checks = [
        (rule.name, rule.resource_check, rule.defaults())
        for rule in ALL_RULES
        if rule.resource_check is not None and rule.applies_to(job_resource.type)
    ]
    assert len(checks) > 5
    violations = {name: list(check(subject, config)) for name, check, config in checks}
    assert {name: found for name, found in violations.items() if found} == {}


def test_config_applies_retention_and_role_mappings(plan: Plan) -> None:
    configmap = one(plan, "kubernetes:core/v1:ConfigMap")
    applied = json.loads(configmap.inputs["data"]["config.json"])
    domain = one(plan, "aws:opensearch/domain:Domain")
    fluent = one(plan, "aws:iam/role:Role", "fluent-bit")
    admin = one(plan, "aws:iam/role:Role", "obs-opensearch-admin-role")
    assert applied["endpoint"] == plan.states[domain.urn]["endpoint"]
    assert applied["region"] == "us-east-1"
    assert applied["ism_policy"]["states"][0]["transitions"][0]["conditions"] == {
        "min_index_age": "30d"
    }
    mappings = applied["role_mappings"]
    assert mappings[setup.WRITER_ROLE]["backend_roles"] == [plan.states[fluent.urn]["arn"]]
    sre = ["arn:aws:iam::123456789012:role/sre"]
    assert mappings[setup.READER_ROLE]["backend_roles"] == sre
    assert mappings["kibana_user"]["backend_roles"] == sre
    assert mappings["all_access"]["backend_roles"] == [plan.states[admin.urn]["arn"]]
    assert "all_access" not in [m for m, v in mappings.items() if sre[0] in v["backend_roles"]]


def test_other_retention_other_job(plan: Plan, tmp_path: Path) -> None:
    dev = synth_component(tmp_path, 7)
    applied = json.loads(one(dev, "kubernetes:core/v1:ConfigMap").inputs["data"]["config.json"])
    assert applied["ism_policy"]["states"][0]["transitions"][0]["conditions"] == {
        "min_index_age": "7d"
    }
    names = [one(p, "kubernetes:batch/v1:Job").inputs["metadata"]["name"] for p in (plan, dev)]
    assert names[0] != names[1]
