"""Observability under mocks: charts, alert rules and runbooks, dashboards, logs, traces."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import promql_parser
import pytest

from components.addons.kube_prometheus_stack import (
    CONFIG_RELOADER,
    GRAFANA,
    GRAFANA_SIDECAR,
    PROMETHEUS,
    SECRETS_MOUNT,
)
from components.addons.tempo import RESOURCES as TEMPO
from components.footprint import FOOTPRINTS_OUTPUT
from components.node_agents import FLUENT_BIT, NODE_EXPORTER
from components.observability.alerts import SloTargets, alert_groups
from components.observability.observability import (
    ALERTING_KEYS,
    RUNBOOK,
    dashboard_files,
)
from components.prerequisites import PREREQUISITES_OUTPUT
from components.settings import SettingsError, load_settings
from tests.conftest import by_name, synth_with
from tools.checks import (
    check_footprints,
    check_order,
    check_scrapes,
    check_secret_values,
    component_outputs,
    dependency_closure,
    object_namespace,
)
from tools.stackconfig import load_stack_config
from tools.synth import ROOT, Plan, PlannedResource

RELEASE = "kubernetes:helm.sh/v3:Release"
ADDON = "agentfactory:platform:HelmAddon"
# Where Alertmanager reads the integration keys (the synced Secret, mounted as files).
KEYS_MOUNT = f"{SECRETS_MOUNT}/alertmanager-integrations"
RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
RUNBOOKS = ROOT / "docs" / "runbooks"
PAGERDUTY = "https://events.pagerduty.com/integration/abc123/enqueue"


def release(plan: Plan, name: str) -> dict[str, Any]:
    return by_name(plan, RELEASE)[f"{plan.stack}-observability-{name}"].inputs


def ours(plan: Plan) -> list[PlannedResource]:
    return [r for r in plan.resources if r.name.startswith(f"{plan.stack}-observability-")]


def prerequisites(plan: Plan) -> list[dict[str, Any]]:
    return [
        item
        for owner, item in component_outputs(plan, PREREQUISITES_OUTPUT)
        if owner.name == f"{plan.stack}-observability"
    ]


def footprints(plan: Plan) -> dict[str, dict[str, Any]]:
    """The footprints of this component's releases: each registered by its HelmAddon."""
    (component,) = plan.by_type("agentfactory:platform:Observability")
    return {
        item["release"]: item
        for owner, item in component_outputs(plan, FOOTPRINTS_OUTPUT)
        if owner.type == ADDON and owner.parent == component.urn
    }


@pytest.fixture(scope="module")
def tuned() -> Plan:
    """dev with the settings the thresholds, the alarm subscription and Grafana follow."""
    base = load_stack_config(ROOT, "dev").values
    data = json.loads(base["agent-factory:dataStores"])
    data["postgres"]["maxConnections"] = 200
    observability = json.loads(base["agent-factory:observability"])
    observability["slo"]["latencySeconds"] = 1
    observability["alarmEndpoint"] = PAGERDUTY
    cluster = {**json.loads(base["agent-factory:cluster"]), "publicAccessCidrs": []}
    return synth_with("dev", dataStores=data, observability=observability, cluster=cluster)


def test_prometheus_retention_storage_and_routes(plan_of: Callable[[str], Plan]) -> None:
    chart = release(plan_of("prod"), "kube-prometheus-stack")
    assert chart["version"] == "79.5.0"
    assert chart["namespace"] == "monitoring"
    values = chart["values"]
    spec = values["prometheus"]["prometheusSpec"]
    assert spec["retention"] == "30d"
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"]["storage"] == "100Gi"
    assert claim["storageClassName"] == "gp3-encrypted"
    routes = values["alertmanager"]["config"]["route"]["routes"]
    pager = [r for r in routes if r["receiver"] == "pagerduty-critical"]
    assert pager == [
        {
            "receiver": "pagerduty-critical",
            "matchers": ['severity="critical"'],
            "group_wait": "10s",
            "repeat_interval": "15m",
            "continue": True,
        }
    ]
    receivers = {r["name"]: r for r in values["alertmanager"]["config"]["receivers"]}
    # Keys are files mounted from a Secret: nothing sensitive in the values.
    assert "routing_key_file" in receivers["pagerduty-critical"]["pagerduty_configs"][0]
    assert "api_url_file" in receivers["slack-warnings"]["slack_configs"][0]
    grafana = values["grafana"]
    assert grafana["admin"]["existingSecret"] == "grafana-admin"
    assert grafana["grafana.ini"]["auth.generic_oauth"]["enabled"] is True


def test_watchdog_feeds_a_dead_mans_switch_and_info_is_not_paged(
    plan_of: Callable[[str], Plan],
) -> None:
    plan = plan_of("prod")
    values = release(plan, "kube-prometheus-stack")["values"]["alertmanager"]
    route = values["config"]["route"]
    by_receiver = {r["receiver"]: r for r in route["routes"]}
    # First, so Watchdog never reaches the warnings channel.
    assert route["routes"][0] == {
        "receiver": "deadmans-switch",
        "matchers": ['alertname="Watchdog"'],
        "group_wait": "0s",
        "group_interval": "1m",
        "repeat_interval": "1m",
    }
    receivers = {r["name"]: r for r in values["config"]["receivers"]}
    (hook,) = receivers["deadmans-switch"]["webhook_configs"]
    assert hook["url_file"] == f"{KEYS_MOUNT}/deadmans-switch-url"
    info = by_receiver["slack-info"]
    assert info["matchers"] == ['severity="info"'] and info["repeat_interval"] == "24h"
    assert "pagerduty_configs" not in receivers["slack-info"]
    assert by_receiver["null"]["matchers"] == ['alertname="InfoInhibitor"']
    # The switch's URL is one of the synced keys, mounted where the file is read.
    assert values["alertmanagerSpec"]["secrets"] == ["alertmanager-integrations"]
    sync = by_name(plan, EXTERNAL_SECRET)["prod-observability-alertmanager-integrations-sync"]
    keys = {d["secretKey"] for d in sync.inputs["spec"]["data"]}
    assert keys == {"pagerduty-routing-key", "slack-webhook-url", "deadmans-switch-url"}


def _rules(plan: Plan) -> list[dict[str, Any]]:
    return [
        rule
        for resource in plan.by_type(RULE)
        for group in resource.inputs["spec"]["groups"]
        for rule in group["rules"]
    ]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_alert_parses_and_has_a_runbook(plan_of: Callable[[str], Plan], stack: str) -> None:
    rules = _rules(plan_of(stack))
    names = {r["alert"] for r in rules}
    assert {
        "HighPodCPU",
        "HighPodMemory",
        "PodCrashLooping",
        "HighErrorRate",
        "HighLatency",
        "NodeNotReady",
        "DiskPressure",
        "CertificateExpiringSoon",
    } <= names
    assert len([n for n in names if str(n).startswith("SLO")]) == 6
    for rule in rules:
        promql_parser.parse(str(rule["expr"]))
        assert rule["for"]
        assert rule["labels"]["severity"] in ("critical", "warning")
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"]
        runbook = Path(str(annotations["runbook_url"])).name
        text = (RUNBOOKS / runbook).read_text()
        assert "## Check" in text and "## Act" in text


def test_backup_alerts_follow_velero(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    names = {r["alert"] for r in _rules(plan)}
    # prod installs Velero (components/backups): its alerts watch the backups.
    assert {"BackupFailed", "BackupMissing"} <= names
    groups = {r.inputs["metadata"]["name"] for r in plan.by_type(RULE)}
    assert groups == {
        "agent-factory-seed",
        "agent-factory-slo",
        "agent-factory-regions",
        "agent-factory-kyverno",
        "agent-factory-vulnerabilities",
        "agent-factory-rollouts",
        "agent-factory-backups",
        # Argo CD's delivery alerts (components/delivery/argocd.py).
        "agent-factory-delivery",
    }
    targets = SloTargets(99.9, 0.5, 95.0, 0.5)
    # A stack without Velero: no rule pretends to watch backups.
    assert "agent-factory.backups" not in alert_groups(targets)
    with_velero = alert_groups(targets, backups=True)["agent-factory.backups"]
    assert [a.name for a in with_velero] == ["BackupFailed", "BackupMissing"]
    for alert in with_velero:
        assert (RUNBOOKS / f"{alert.runbook}.md").is_file()


def test_seed_alert_thresholds(plan_of: Callable[[str], Plan]) -> None:
    rules = {r["alert"]: r for r in _rules(plan_of("prod"))}
    assert rules["HighPodCPU"]["for"] == "5m" and str(rules["HighPodCPU"]["expr"]).endswith("> 0.8")
    assert rules["NodeNotReady"]["for"] == "2m"
    assert rules["DiskPressure"]["for"] == "10m"
    assert "> 3" in str(rules["PodCrashLooping"]["expr"])
    assert "30 * 86400" in str(rules["CertificateExpiringSoon"]["expr"])


def test_thresholds_follow_settings(plan_of: Callable[[str], Plan], tuned: Plan) -> None:
    def connections(plan: Plan) -> float:
        alarms = by_name(plan, "aws:cloudwatch/metricAlarm:MetricAlarm")
        return float(
            alarms[f"{plan.stack}-observability-rds-primary-connections"].inputs["threshold"]
        )

    def latency(plan: Plan) -> dict[str, Any]:
        return {r["alert"]: r for r in _rules(plan)}["HighLatency"]

    # 90 % of max_connections: prod's 500 -> 450; the tuned stack's 200 -> 180.
    assert connections(plan_of("prod")) == 450
    assert connections(tuned) == 180
    # HighLatency fires above the SLO latency (prod 0.5 s; tuned 1 s).
    assert str(latency(plan_of("prod"))["expr"]).endswith("> 0.5")
    assert str(latency(tuned)["expr"]).endswith("> 1")
    assert "1000 ms" in str(latency(tuned)["annotations"]["summary"])
    slo = {r["alert"]: r for r in _rules(tuned)}["SLOLatencyBurnRatePage"]
    assert 'le="1"' in str(slo["expr"])


def test_slo_thresholds_follow_the_environment(plan_of: Callable[[str], Plan]) -> None:
    def page(stack: str) -> str:
        rules = {r["alert"]: r for r in _rules(plan_of(stack))}
        return str(rules["SLOAvailabilityBurnRatePage"]["expr"])

    # 14.4 x (1 - target): prod 99.9 % -> 0.0144, dev 99.0 % -> 0.144
    assert page("prod").endswith("> 0.0144")
    assert page("dev").endswith("> 0.144")
    assert "[1h]" in page("prod") and "[5m]" in page("prod")


def test_slo_latency_must_be_a_histogram_bucket() -> None:
    values = load_stack_config(ROOT, "dev").project_values()
    with pytest.raises(SettingsError, match=r"observability\.slo\.latencySeconds: 0\.3 is not"):
        load_settings(
            "dev", "us-east-1", {**values, "observability": {"slo": {"latencySeconds": 0.3}}}
        )


def _loaded_boards(plan: Plan) -> dict[str, dict[str, Any]]:
    maps = [
        r
        for r in plan.by_type("kubernetes:core/v1:ConfigMap")
        if r.inputs["metadata"]["labels"].get("grafana_dashboard") == "1"
    ]
    boards = [json.loads(next(iter(m.inputs["data"].values()))) for m in maps]
    return {board["uid"]: board for board in boards}


def test_dashboards_are_valid_and_all_loaded(plan_of: Callable[[str], Plan]) -> None:
    boards = dashboard_files()
    assert set(boards) == {
        "agent-factory-overview",
        "cluster-health",
        "agent-runtime-performance",
        "cost-tracking",
        "security-monitoring",
        "slo-error-budget",
    }
    for uid, board in boards.items():
        assert board["uid"] == uid and board["title"] and board["description"]
        for panel in board["panels"]:
            for target in panel["targets"]:
                # Template variables are substituted by Grafana before the query runs.
                expr = target["expr"].replace("$slo_availability", "99.9")
                promql_parser.parse(expr.replace("$slo_latency", "0.5"))
    assert set(_loaded_boards(plan_of("prod"))) == set(boards)


def test_dashboard_slo_constants_follow_settings(
    plan_of: Callable[[str], Plan], tuned: Plan
) -> None:
    def constants(plan: Plan) -> dict[str, str]:
        board = _loaded_boards(plan)["slo-error-budget"]
        return {v["name"]: v["query"] for v in board["templating"]["list"]}

    assert constants(plan_of("prod")) == {"slo_availability": "99.9", "slo_latency": "0.5"}
    assert constants(plan_of("dev"))["slo_availability"] == "99"
    assert constants(tuned)["slo_latency"] == "1"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_metric_read_has_a_scrape_source(plan_of: Callable[[str], Plan], stack: str) -> None:
    plan = plan_of(stack)
    findings, examined = check_scrapes(plan)
    # Every alert rule and dashboard panel of the stack was read, and none reads a metric
    # nothing scrapes (ingress-nginx, cert-manager, node-exporter, kube-state-metrics, ...).
    assert examined >= 40
    assert [f.message for f in findings] == []


def test_platform_releases_are_scraped_after_the_crds(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    monitors = by_name(plan, MONITOR)
    stack = by_name(plan, RELEASE)["prod-observability-kube-prometheus-stack"]
    nginx = monitors["prod-observability-monitor-ingress-nginx-controller"]
    assert nginx.inputs["metadata"]["namespace"] == "monitoring"
    assert nginx.inputs["spec"] == {
        "namespaceSelector": {"matchNames": ["ingress-nginx"]},
        "selector": {
            "matchLabels": {
                "app.kubernetes.io/name": "ingress-nginx",
                "app.kubernetes.io/instance": "ingress-nginx",
                "app.kubernetes.io/component": "controller",
            }
        },
        "endpoints": [{"port": "metrics", "interval": "30s"}],
    }
    cert = monitors["prod-observability-monitor-cert-manager"]
    assert cert.inputs["spec"]["namespaceSelector"] == {"matchNames": ["cert-manager"]}
    assert cert.inputs["spec"]["endpoints"] == [
        {"port": "tcp-prometheus-servicemonitor", "interval": "30s"}
    ]
    for monitor in (nginx, cert):
        assert stack.urn in monitor.dependencies
    # The chart the ingress metrics come from must keep its metrics Service on.
    ingress = by_name(plan, RELEASE)["prod-security-ingress-nginx"]
    assert ingress.inputs["values"]["controller"]["metrics"]["enabled"] is True


def test_objects_wait_for_namespace_secret_store_and_crds(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    mine = [r for r in ours(plan) if r.custom and r.type.startswith("kubernetes:")]
    urns = {r.urn for r in mine}
    findings, _ = check_order(plan)
    # The External Secrets CRDs are Security's release; this component waits for the store.
    problems = [
        f.message for f in findings if f.subject in urns and "external-secrets.io" not in f.message
    ]
    assert problems == []
    closure = dependency_closure(plan)
    namespaces = {
        r.inputs["metadata"]["name"]: r.urn for r in plan.by_type("kubernetes:core/v1:Namespace")
    }
    for resource in mine:
        assert namespaces[str(object_namespace(resource))] in closure[resource.urn], resource.name
    (store,) = [r for r in plan.resources if r.type.endswith(":ClusterSecretStore")]
    syncs = [r for r in plan.by_type(EXTERNAL_SECRET) if r.urn in urns]
    assert len(syncs) == 2
    for sync in syncs:
        assert store.urn in sync.dependencies
    stack = by_name(plan, RELEASE)["prod-observability-kube-prometheus-stack"]
    crs = [r for r in mine if r.type.startswith("kubernetes:monitoring.coreos.com/")]
    # 5 rule groups (seed, SLO, regions, rollouts, backups), 3 ServiceMonitors and the
    # peer-region Probe.
    assert len(crs) == 9
    for cr in crs:
        assert stack.urn in cr.dependencies, cr.name


def test_alerting_and_sso_secrets_come_from_secrets_manager(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    secrets = by_name(plan, "aws:secretsmanager/secret:Secret")
    for name, path in (
        ("alertmanager-integrations", "alerting/integrations"),
        ("grafana-oidc", "grafana/oidc"),
    ):
        secret = secrets[f"prod-observability-{name}"]
        assert secret.inputs["name"] == f"agent-factory-prod/{path}"
        sync = by_name(plan, EXTERNAL_SECRET)[f"prod-observability-{name}-sync"]
        assert sync.inputs["spec"]["target"] == {"name": name}
        refs = {d["remoteRef"]["key"] for d in sync.inputs["spec"]["data"]}
        assert refs == {f"agent-factory-prod/{path}"}
        # The store is Security's: named from its object, waited for through it.
        (store,) = plan.by_type("kubernetes:external-secrets.io/v1:ClusterSecretStore")
        assert sync.inputs["spec"]["secretStoreRef"] == {
            "kind": "ClusterSecretStore",
            "name": store.inputs["metadata"]["name"],
        }


def test_integration_secrets_start_as_placeholders_a_person_replaces(
    plan_of: Callable[[str], Plan],
) -> None:
    plan = plan_of("prod")
    versions = by_name(plan, "aws:secretsmanager/secretVersion:SecretVersion")
    secrets = by_name(plan, "aws:secretsmanager/secret:Secret")
    required = {item["secret"]: item for item in prerequisites(plan) if item["secret"]}
    for name, path, keys in (
        ("alertmanager-integrations", "alerting/integrations", ALERTING_KEYS),
        ("grafana-oidc", "grafana/oidc", ("client-secret",)),
    ):
        version = versions[f"prod-observability-{name}-placeholder"]
        secret = secrets[f"prod-observability-{name}"]
        assert version.inputs["secretId"] == plan.states[secret.urn]["id"]
        assert version.inputs["secretString"] == "[secret]"
        # The real value is set out of band and must never be overwritten.
        assert version.ignore_changes == ["secretString"]
        entry = f"agent-factory-prod/{path}"
        how = required[entry]["how"]
        assert how.startswith("aws secretsmanager put-secret-value --region us-east-1 ")
        assert f"--secret-id {entry} " in how
        assert all(f'"{key}"' in how for key in keys)
    # The placeholder and the prerequisite name this runbook: it must exist.
    assert (ROOT / RUNBOOK).is_file()
    for path in ("alerting/integrations", "grafana/oidc"):
        assert RUNBOOK in required[f"agent-factory-prod/{path}"]["what"], path
    # The two integration entries here, the services' cache token and LLM keys (one
    # ExternalSecret per workload that reads them), and Argo CD's OIDC, webhook and
    # notification secrets, each declared by its owner.
    findings, examined = check_secret_values(plan)
    assert examined == 16 and findings == []


def test_alarm_topic_notifies_pagerduty_or_says_who_must(
    plan_of: Callable[[str], Plan], tuned: Plan
) -> None:
    plan = plan_of("prod")
    assert plan.by_type(SUBSCRIPTION) == []
    (missing,) = [i for i in prerequisites(plan) if "alarmEndpoint" in i["how"]]
    assert missing["how"].startswith(
        "pulumi config set --secret --path observability.alarmEndpoint "
    )
    assert missing["how"].endswith("-s prod") and missing["secret"] is None
    (subscription,) = tuned.by_type(SUBSCRIPTION)
    (topic,) = tuned.by_type("aws:sns/topic:Topic")
    assert subscription.inputs["protocol"] == "https"
    assert subscription.inputs["endpointAutoConfirms"] is True
    # The endpoint is a secret: never in the plan or the state in clear.
    assert subscription.inputs["endpoint"] == "[secret]"
    assert subscription.inputs["topic"] == tuned.states[topic.urn]["arn"]
    assert not [i for i in prerequisites(tuned) if "alarmEndpoint" in i["how"]]


def test_alarm_endpoint_setting_is_an_https_url() -> None:
    values = load_stack_config(ROOT, "dev").project_values()

    def load(endpoint: Any) -> Any:
        observability = {"alarmEndpoint": endpoint}
        return load_settings("dev", "us-east-1", {**values, "observability": observability})

    with pytest.raises(SettingsError, match=r"observability\.alarmEndpoint: must be the https"):
        load("http://events.pagerduty.com/integration/x/enqueue")
    assert load(PAGERDUTY).observability.alarm_endpoint == PAGERDUTY


def test_a_nested_secret_in_a_stack_file_reads_as_set(tmp_path: Path) -> None:
    """`pulumi config set --secret --path` stores ciphertext inside the object; offline it
    stands for "set", and the whole key is secret as Pulumi treats it."""
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    stack = (
        (ROOT / "Pulumi.dev.yaml")
        .read_text()
        .replace(
            "    traceSamplingPercent: 10\n",
            "    traceSamplingPercent: 10\n    alarmEndpoint: {secure: v1:AAAA}\n",
        )
    )
    (tmp_path / "Pulumi.dev.yaml").write_text(stack)
    config = load_stack_config(tmp_path, "dev")
    assert "agent-factory:observability" in config.secret_keys
    settings = load_settings("dev", "us-east-1", config.project_values())
    assert settings.observability.alarm_endpoint == "[secret]"


def test_grafana_is_reachable_at_its_root_url(plan_of: Callable[[str], Plan], tuned: Plan) -> None:
    plan = plan_of("prod")
    ingress = by_name(plan, INGRESS)["prod-observability-grafana-ingress"].inputs
    host = "grafana-prod.greenlang.ai"
    assert ingress["metadata"]["namespace"] == "monitoring"
    # The SRE VPN and CI egress of prod's publicAccessCidrs only.
    assert ingress["metadata"]["annotations"] == {
        "nginx.ingress.kubernetes.io/whitelist-source-range": "198.51.100.0/24,203.0.113.0/28"
    }
    spec = ingress["spec"]
    assert spec["ingressClassName"] == "nginx"
    # No secretName: the controller's default certificate (*.greenlang.ai) serves it.
    assert spec["tls"] == [{"hosts": [host]}]
    (rule,) = spec["rules"]
    assert rule["host"] == host
    (path,) = rule["http"]["paths"]
    assert path["backend"]["service"] == {
        "name": "kube-prometheus-stack-grafana",
        "port": {"name": "http-web"},
    }
    ini = release(plan, "kube-prometheus-stack")["values"]["grafana"]["grafana.ini"]
    assert ini["server"]["root_url"] == f"https://{host}"
    (record,) = [r for r in ours(plan) if r.type == "aws:route53/record:Record"]
    assert record.inputs["name"] == host and record.inputs["type"] == "CNAME"
    # No CIDRs configured: no allow-list annotation; no hosted zone (dev): no DNS record.
    tuned_ingress = by_name(tuned, INGRESS)["dev-observability-grafana-ingress"].inputs
    assert "annotations" not in tuned_ingress["metadata"]
    assert tuned_ingress["spec"]["rules"][0]["host"] == "grafana-dev.greenlang.ai"
    assert not [r for r in ours(tuned) if r.type == "aws:route53/record:Record"]


@pytest.mark.parametrize(("stack", "retention"), [("dev", 30), ("prod", 365)])
def test_opensearch_publishes_its_logs(
    plan_of: Callable[[str], Plan], stack: str, retention: int
) -> None:
    plan = plan_of(stack)
    groups = {r.inputs["name"]: r for r in ours(plan) if r.type == LOG_GROUP}
    prefix = f"/aws/opensearch/af-{stack}-logs/"
    assert set(groups) == {
        prefix + k for k in ("application", "audit", "index-slow", "search-slow")
    }
    (logs_key,) = [r for r in plan.resources if r.name == f"{stack}-keys-logs"]
    for group in groups.values():
        assert group.inputs["kmsKeyId"] == plan.states[logs_key.urn]["arn"]
        assert group.inputs["retentionInDays"] == retention
    arns = {plan.states[g.urn]["arn"]: name for name, g in groups.items()}
    (domain,) = plan.by_type("aws:opensearch/domain:Domain")
    published = {
        o["logType"]: arns[o["cloudwatchLogGroupArn"]]
        for o in domain.inputs["logPublishingOptions"]
        if o["enabled"]
    }
    assert published == {
        "ES_APPLICATION_LOGS": prefix + "application",
        "AUDIT_LOGS": prefix + "audit",
        "INDEX_SLOW_LOGS": prefix + "index-slow",
        "SEARCH_SLOW_LOGS": prefix + "search-slow",
    }
    (policy,) = [r for r in ours(plan) if r.type.endswith("logResourcePolicy:LogResourcePolicy")]
    (statement,) = json.loads(policy.inputs["policyDocument"])["Statement"]
    assert statement["Principal"] == {"Service": "es.amazonaws.com"}
    assert sorted(statement["Resource"]) == sorted(f"{arn}:*" for arn in arns)
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    assert policy.urn in domain.dependencies


def test_node_agents_run_on_every_node_within_their_budget(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    exporter = release(plan, "kube-prometheus-stack")["values"]["prometheus-node-exporter"]
    fluent = release(plan, "fluent-bit")["values"]
    for values, budget in ((exporter, NODE_EXPORTER), (fluent, FLUENT_BIT)):
        assert values["resources"] == budget.values()
        # The system pool is tainted CriticalAddonsOnly: node agents tolerate everything.
        assert values["tolerations"] == [{"operator": "Exists"}]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_release_declares_its_footprint(plan_of: Callable[[str], Plan], stack: str) -> None:
    plan = plan_of(stack)
    declared = footprints(plan)
    charts = {r.inputs["name"] for r in ours(plan) if r.type == RELEASE}
    assert set(declared) == charts
    expected = {"kube-prometheus-stack", "fluent-bit", "tempo", "otel-collector"}
    assert charts == (expected | {"blackbox-exporter"} if stack == "prod" else expected)
    findings, _ = check_footprints(plan)
    assert not [f for f in findings if any(c in f.message for c in charts)]


def test_footprints_match_the_chart_values(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    declared = footprints(plan)
    values = release(plan, "kube-prometheus-stack")["values"]
    stack = declared["kube-prometheus-stack"]
    assert stack["namespace"] == "monitoring" and stack["crds"] == ["monitoring.coreos.com"]
    workloads = {w["name"]: w for w in stack["workloads"]}
    prometheus = workloads["prometheus"]
    assert prometheus["replicas"] == values["prometheus"]["prometheusSpec"]["replicas"] == 2
    assert prometheus["containers"] == [PROMETHEUS.values(), CONFIG_RELOADER.values()]
    assert values["prometheus"]["prometheusSpec"]["resources"] == PROMETHEUS.values()
    assert values["prometheusOperator"]["prometheusConfigReloader"]["resources"] == (
        CONFIG_RELOADER.values()
    )
    alertmanager = workloads["alertmanager"]
    assert alertmanager["replicas"] == values["alertmanager"]["alertmanagerSpec"]["replicas"] == 3
    # Grafana with its dashboard and datasource sidecars.
    assert workloads["grafana"]["containers"] == [
        GRAFANA.values(),
        GRAFANA_SIDECAR.values(),
        GRAFANA_SIDECAR.values(),
    ]
    assert values["grafana"]["sidecar"]["resources"] == GRAFANA_SIDECAR.values()
    assert workloads["node-exporter"]["kind"] == "DaemonSet"
    assert workloads["node-exporter"]["containers"] == [NODE_EXPORTER.values()]
    assert {s["type"] for s in stack["services"]} == {"ClusterIP"}
    via = {m["via"]: m["prefixes"] for m in stack["metrics"] if m["via"]}
    assert via == {
        "ServiceMonitor/monitoring/ingress-nginx-controller": ["nginx_ingress_controller_"],
        "ServiceMonitor/monitoring/cert-manager": ["certmanager_"],
        "ServiceMonitor/monitoring/argo-rollouts": [
            "rollout_",
            "analysis_run_",
            "experiment_",
            "controller_clientset_",
        ],
    }
    fluent = declared["fluent-bit"]["workloads"]
    assert fluent == [
        {
            "name": "fluent-bit",
            "kind": "DaemonSet",
            "replicas": 1,
            "surge": 0,
            "containers": [FLUENT_BIT.values()],
        }
    ]
    (tempo,) = declared["tempo"]["workloads"]
    assert tempo["containers"] == [release(plan, "tempo")["values"]["tempo"]["resources"]]
    assert tempo["containers"] == [TEMPO.values()]
    (collector,) = declared["otel-collector"]["workloads"]
    otel = release(plan, "otel-collector")["values"]
    assert collector["replicas"] == otel["replicaCount"] == 2
    assert collector["containers"] == [otel["resources"]]
    (blackbox,) = declared["blackbox-exporter"]["workloads"]
    assert blackbox["replicas"] == release(plan, "blackbox-exporter")["values"]["replicas"]
    assert declared["blackbox-exporter"]["metrics"] == [
        {"prefixes": ["probe_"], "via": "Probe/monitoring/peer-regions"}
    ]


def test_chart_pins_are_versions_that_exist(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    pins = {name: release(plan, name)["version"] for name in footprints(plan)}
    # Each shown to exist upstream (release tags / changelogs; see the change's notes).
    assert pins == {
        "kube-prometheus-stack": "79.5.0",
        "blackbox-exporter": "11.17.2",
        "fluent-bit": "0.54.0",
        "otel-collector": "0.140.0",
        "tempo": "1.24.0",
    }


def test_tempo_writes_its_wal_to_a_volume(plan_of: Callable[[str], Plan]) -> None:
    values = release(plan_of("prod"), "tempo")["values"]
    # Read-only root filesystem: without a volume at /var/tempo the WAL cannot be written.
    assert values["tempo"]["securityContext"]["readOnlyRootFilesystem"] is True
    assert values["tempo"]["extraVolumeMounts"] == [
        {"name": "tempo-data", "mountPath": "/var/tempo"}
    ]
    assert values["extraVolumes"] == [{"name": "tempo-data", "emptyDir": {}}]


@pytest.mark.parametrize(("stack", "percent"), [("dev", 10), ("staging", 5), ("prod", 1)])
def test_trace_sampling_per_environment(
    plan_of: Callable[[str], Plan], stack: str, percent: float
) -> None:
    values = release(plan_of(stack), "otel-collector")["values"]
    sampler = values["config"]["processors"]["probabilistic_sampler"]
    assert sampler["sampling_percentage"] == percent


def test_opensearch_is_encrypted_private_and_fine_grained(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    (domain,) = plan.by_type("aws:opensearch/domain:Domain")
    inputs = domain.inputs
    assert inputs["clusterConfig"]["instanceCount"] == 3
    assert inputs["ebsOptions"]["volumeSize"] == 500
    assert inputs["encryptAtRest"]["enabled"] is True
    assert inputs["nodeToNodeEncryption"]["enabled"] is True
    assert inputs["domainEndpointOptions"]["enforceHttps"] is True
    assert inputs["advancedSecurityOptions"]["enabled"] is True
    assert len(inputs["vpcOptions"]["subnetIds"]) == 3
    assert domain.protect
    (dev_domain,) = plan_of("dev").by_type("aws:opensearch/domain:Domain")
    assert dev_domain.inputs["clusterConfig"]["instanceCount"] == 1


def topic_arn(plan: Plan, topic: PlannedResource) -> str:
    return str(plan.states[topic.urn]["arn"])


def test_data_store_alarms_go_to_an_encrypted_topic(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    (topic,) = plan.by_type("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"]
    alarms = [
        a
        for a in plan.by_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.inputs["namespace"] in ("AWS/RDS", "AWS/ElastiCache")
    ]
    assert all(a.inputs["alarmActions"] == [topic_arn(plan, topic)] for a in alarms)
    metrics = [a.inputs["metricName"] for a in alarms]
    # primary 3 + 3 replicas x 4 (with lag); 6 cache nodes x 3
    assert metrics.count("ReplicaLag") == 3
    assert metrics.count("Evictions") == 6
    assert len(alarms) == 3 + 3 * 4 + 6 * 3
    nodes = {a.inputs["dimensions"].get("CacheClusterId") for a in alarms} - {None}
    assert "agent-factory-prod-cache-0003-002" in nodes


def test_opensearch_admits_the_shipper_its_admin_and_the_sres(
    plan_of: Callable[[str], Plan],
) -> None:
    plan = plan_of("prod")
    (domain,) = plan.by_type("aws:opensearch/domain:Domain")
    (statement,) = json.loads(domain.inputs["accessPolicies"])["Statement"]
    roles = by_name(plan, "aws:iam/role:Role")
    shipper = plan.states[roles["prod-observability-fluent-bit-role"].urn]["arn"]
    admin = plan.states[roles["prod-observability-opensearch-admin-role"].urn]["arn"]
    assert statement["Principal"] == {
        "AWS": [shipper, admin, "arn:aws:iam::123456789012:role/AgentFactorySRE"]
    }
    assert statement["Resource"].endswith(":domain/af-prod-logs/*")
    # The setup Job's role is the master user: it maps the others to their roles.
    options = domain.inputs["advancedSecurityOptions"]["masterUserOptions"]
    assert options["masterUserArn"] == admin
    (job,) = plan.by_type("kubernetes:batch/v1:Job")
    assert job.inputs["metadata"]["namespace"] == "logging"
