"""The plan CLI: tree, summary, JSON contract, and one-line errors with exit code 2."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tools import plan as plan_module
from tools.plan import main
from tools.synth import ROOT, Plan, synth

CONTRACT_KEYS = {"urn", "type", "name", "parent", "provider", "custom", "inputs", "dependencies"}


@pytest.fixture(autouse=True)
def _session_plans(monkeypatch: pytest.MonkeyPatch, plan_of: Callable[[str], Plan]) -> None:
    """These tests are about the CLI around the plan: the checked-in stacks' plans come from
    the session's (a copy each time), copies of the project are synthesized for real."""

    def cached(stack: str, root: Path = ROOT) -> Plan:
        return copy.deepcopy(plan_of(stack)) if root == ROOT else synth(stack, root)

    monkeypatch.setattr(plan_module, "synth", cached)


def test_json_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "plan.json"
    assert main(["prod", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "agentfactory:platform:Region" in printed
    assert "resources to create" in printed
    document = json.loads(out.read_text())
    assert document["stack"] == "prod"
    assert document["resources"]
    for resource in document["resources"]:
        assert set(resource) >= CONTRACT_KEYS
        assert isinstance(resource["inputs"], dict)
        assert isinstance(resource["dependencies"], list)
    types = [r["type"] for r in document["resources"]]
    assert types.count("aws:ec2/subnet:Subnet") == 9
    assert types.count("aws:ec2/natGateway:NatGateway") == 3
    assert document["outputs"]["clusterName"] == "agent-factory-prod"
    # Reads are listed apart: prod reads each secondary and its ingress Service.
    reads = {(r["type"], r["id"]) for r in document["reads"]}
    assert reads == {
        ("pulumi:pulumi:StackReference", "organization/agent-factory/prod-us-west-2"),
        ("pulumi:pulumi:StackReference", "organization/agent-factory/prod-eu-west-1"),
        ("kubernetes:core/v1:Service", "ingress-nginx/ingress-nginx-controller"),
    }
    assert "> pulumi:pulumi:StackReference" in printed
    checks = document["checks"]
    assert checks["findings"] == []
    # Every check looked at something; global names were compared with both secondaries.
    assert set(checks["examined"]) == {
        "quota",
        "footprint",
        "scrape",
        "secret-value",
        "order",
        "global-name",
        "service-account",
    }
    assert all(count > 0 for count in checks["examined"].values()), checks["examined"]
    assert "checks: no findings" in printed
    policy = document["policy"]
    assert policy["rules"] >= 40
    assert policy["checked"] == len(document["resources"])
    assert policy["violations"] == []
    assert "no violations" in printed


def test_no_policy_skips_the_gate(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    assert main(["dev", "--no-policy", "--json", str(out)]) == 0
    assert "policy" not in json.loads(out.read_text())


def test_advisory_violations_are_listed_but_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plan.json"
    assert main(["dev", "--json", str(out)]) == 0
    violations = json.loads(out.read_text())["policy"]["violations"]
    assert {v["level"] for v in violations} == {"advisory"}
    # dev trades resilience for cost on purpose: single-AZ database and cache, no protect.
    assert {v["rule"] for v in violations} == {
        "stateful-protected",
        "rds-multi-az",
        "rds-deletion-protection",
        "elasticache-failover",
    }
    assert "stateful-protected" in capsys.readouterr().out


def test_unknown_stack_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qa"]) == 2
    err = capsys.readouterr().err.strip()
    known = "dev, prod, prod-eu-west-1, prod-us-west-2, staging"
    assert err == f"error: unknown stack 'qa' (known stacks: {known})"


def _project_copy(tmp_path: Path, stack_yaml: str) -> Path:
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "components", tmp_path / "components")
    shutil.copytree(ROOT / "tools", tmp_path / "tools")
    shutil.copytree(ROOT / "policy", tmp_path / "policy")
    (tmp_path / "Pulumi.broken.yaml").write_text(stack_yaml)
    return tmp_path


def test_bad_config_exits_2_without_traceback(tmp_path: Path) -> None:
    root = _project_copy(
        tmp_path,
        "config:\n  aws:region: us-east-1\n  agent-factory:environment: prod\n"
        "  agent-factory:account: prod\n"
        "  agent-factory:nodePools:\n    worker: {minSize: 80}\n",
    )
    result = subprocess.run(
        [sys.executable, "-m", "tools.plan", "broken"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == ["error: agent-factory:nodePools.worker.minSize: 80 is greater than maxSize 50"]
    assert "Traceback" not in result.stdout + result.stderr


def test_a_failed_check_exits_1_and_names_the_clash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """dev's twin in dev's account and region: GuardDuty allows one detector there."""
    dev = (ROOT / "Pulumi.dev.yaml").read_text()
    root = _project_copy(tmp_path, dev.replace("vpcCidr: 10.10.0.0/16", "vpcCidr: 10.11.0.0/16"))
    shutil.copy(ROOT / "Pulumi.dev.yaml", root / "Pulumi.dev.yaml")
    out = tmp_path / "plan.json"
    assert main(["broken", "--no-policy", "--json", str(out)], root=root) == 1
    findings = json.loads(out.read_text())["checks"]["findings"]
    assert {(f["check"], f["message"]) for f in findings} >= {
        (
            "global-name",
            "Detector (singleton) is created by broken, dev: the name is unique per region, "
            "so the second pulumi up fails",
        )
    }
    assert "Detector (singleton)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("stack_yaml", "line"),
    [
        (
            "config:\n  aws:region: us-east-1\n  aws:region: us-west-2\n",
            "error: Pulumi.broken.yaml: line 3: key 'aws:region' given twice",
        ),
        ("- aws:region\n- us-east-1\n", "error: Pulumi.broken.yaml: must be a mapping, got list"),
        ("config: [1, 2]\n", "error: Pulumi.broken.yaml: config must be a mapping of key to value"),
        ("config:\n  1: us-east-1\n", "error: Pulumi.broken.yaml: config key 1 must be a string"),
    ],
)
def test_malformed_stack_files_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stack_yaml: str, line: str
) -> None:
    root = _project_copy(tmp_path, stack_yaml)
    assert main(["broken", "--no-policy"], root=root) == 2
    assert capsys.readouterr().err.strip() == line


def test_an_unwritable_json_path_exits_2_before_synthesizing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-dir" / "plan.json"
    assert main(["dev", "--json", str(missing)]) == 2
    captured = capsys.readouterr()
    assert (
        captured.err.strip()
        == f"error: --json {missing}: directory {missing.parent} does not exist"
    )
    assert "resources to create" not in captured.out


def test_an_internal_failure_exits_3_with_one_line_and_debug_shows_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(stack: str, root: Path) -> None:
        raise KeyError("eksCluster")

    monkeypatch.setattr("tools.plan.synth", broken)
    assert main(["dev"]) == 3
    assert capsys.readouterr().err.strip() == (
        "internal error: KeyError: 'eksCluster' (run again with --debug for the traceback)"
    )
    with pytest.raises(KeyError):
        main(["dev", "--debug"])


def test_a_broken_peer_stack_is_named_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Multi-region: the error is about the peer, not the stack being previewed."""
    root = _project_copy(tmp_path, (ROOT / "Pulumi.prod.yaml").read_text())
    (root / "Pulumi.broken.yaml").rename(root / "Pulumi.prod.yaml")
    shutil.copy(ROOT / "Pulumi.prod-us-west-2.yaml", root / "Pulumi.prod-us-west-2.yaml")
    peer = (ROOT / "Pulumi.prod-eu-west-1.yaml").read_text()
    (root / "Pulumi.prod-eu-west-1.yaml").write_text(peer.replace("10.2.0.0/16", "10.2.0.0/33"))
    assert main(["prod", "--no-policy"], root=root) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: referenced stack prod-eu-west-1: agent-factory:network.vpcCidr: '10.2.0.0/33' "
        "is not an IPv4 CIDR block ('33' is not a valid netmask)"
    ]


def test_an_unknown_enforcement_level_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project_copy(tmp_path, (ROOT / "Pulumi.dev.yaml").read_text())
    (root / "policy" / "config" / "broken.json").write_text('{"s3-versioning": "strict"}\n')
    assert main(["broken"], root=root) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: ") and "strict" in err[0], err


def test_a_policy_pack_that_does_not_start_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project_copy(tmp_path, (ROOT / "Pulumi.dev.yaml").read_text())
    (root / "policy" / "__main__.py").write_text('raise SystemExit("pack broken")\n')
    assert main(["broken"], root=root) == 3
    assert capsys.readouterr().err.strip() == (
        "internal error: policy pack did not start: pack broken"
    )


@pytest.mark.parametrize(
    ("setting", "line"),
    [
        (
            "  aws:region: mars-east-1\n",
            "error: aws:region: 'mars-east-1' is not an AWS region (e.g. us-east-1)",
        ),
        (
            "  agent-factory:nodePools:\n    worker: {instanceTypes: [m6i.huge]}\n",
            "error: agent-factory:nodePools.worker.instanceTypes: 'm6i.huge' is not an EC2 "
            "instance type (e.g. m6i.xlarge)",
        ),
        (
            "  agent-factory:dataStores:\n    postgres: {engineVersion: '12'}\n",
            "error: agent-factory:dataStores.postgres.engineVersion: PostgreSQL 12 is not "
            "offered by RDS; majors 14-18",
        ),
        (
            "  agent-factory:network:\n"
            "    availabilityZones: [eu-west-1a, eu-west-1b, eu-west-1c]\n",
            "error: agent-factory:network.availabilityZones: ['eu-west-1a', 'eu-west-1b', "
            "'eu-west-1c'] are not zones of us-east-1",
        ),
        (
            "  agent-factory:security:\n    acmeEmail: sre-at-greenlang.ai\n",
            "error: agent-factory:security.acmeEmail: value is not a valid email address: An "
            "email address must have an @-sign.",
        ),
        (
            "  agent-factory:observability:\n    grafanaOidcIssuer: https://\n",
            "error: agent-factory:observability.grafanaOidcIssuer: 'https://' must be an https "
            "issuer URL with a host",
        ),
    ],
)
def test_values_aws_would_reject_exit_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setting: str, line: str
) -> None:
    base = "config:\n  agent-factory:environment: dev\n  agent-factory:account: dev\n"
    region = "" if "aws:region" in setting else "  aws:region: us-east-1\n"
    root = _project_copy(tmp_path, base + region + setting)
    assert main(["broken", "--no-policy"], root=root) == 2
    assert capsys.readouterr().err.strip().splitlines() == [line]


def test_a_stack_name_too_long_for_derived_names_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project_copy(tmp_path, (ROOT / "Pulumi.dev.yaml").read_text())
    long_name = "a-stack-name-far-too-long"
    (root / "Pulumi.broken.yaml").rename(root / f"Pulumi.{long_name}.yaml")
    assert main([long_name, "--no-policy"], root=root) == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .startswith(
            f"error: stack '{long_name}': names derived from it need 1-20 lowercase letters"
        )
    )
