"""charts/agent-factory: linted and rendered with real Helm for every environment.

The values are what the Pulumi program gives the chart: ``values-<env>.yaml`` and, inline,
the ``global`` block plus each workload's image, service account and placement. The
rendered objects are checked for what the platform relies on (restricted pods, pinned
images, autoscaling ranges that fit the namespace quota, closed network policies) and
validated against the Kubernetes 1.35 API schemas.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from tests import argo_schemas
from tools.helm import HelmError, layered, lint, render

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "charts" / "agent-factory"
KUBERNETES_VERSION = "1.35"
ENVIRONMENTS = ("dev", "staging", "prod")
WORKLOADS = ("agent-factory", "agent-registry", "agent-runtime", "api-gateway", "worker")
HPA_WORKLOADS = ("agent-factory", "agent-registry", "agent-runtime", "api-gateway")
# How each workload ships: a Deployment's RollingUpdate, or an Argo Rollouts Rollout.
ROLLOUTS = {"api-gateway": "blueGreen", "agent-factory": "canary"}
DEPLOYMENTS = tuple(w for w in WORKLOADS if w not in ROLLOUTS)
ROLLOUT_API = "argoproj.io/v1alpha1"
LLM_WORKLOADS = {"agent-factory", "agent-runtime", "worker"}
# greenlang-<env>'s ResourceQuota: (request cores, request GiB, limit cores, limit GiB).
QUOTAS = {
    "dev": (50, 100, 100, 100),
    "staging": (75, 150, 150, 150),
    "prod": (200, 400, 400, 400),
}
# Kinds whose schemas come from CRDs: kubernetes_validate knows only built-in kinds.
CRD_KINDS = {
    "Rollout",
    "AnalysisTemplate",
    "ExternalSecret",
    "ScaledObject",
    "TriggerAuthentication",
    "VerticalPodAutoscaler",
    "ServiceMonitor",
}
PROMETHEUS = "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090"
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
DIGEST = "sha256:" + "0123456789abcdef" * 4
LLM_CIDRS = ["160.79.104.0/23"]
INGRESS_NAMESPACE = "ingress-nginx"
MONITORING_NAMESPACE = "monitoring"
API_HOSTS = ["api.greenlang.ai", "api-us-east-1.greenlang.ai"]
LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/component",
    "app.kubernetes.io/managed-by",
    "helm.sh/chart",
)

Objects = list[dict[str, Any]]


def pulumi_values(env: str, *, kafka: bool = True) -> dict[str, Any]:
    """The inline values the Pulumi program computes for a stack of ``env``."""
    global_ = {
        "environment": env,
        "region": "us-east-1",
        "imageRegistry": REGISTRY,
        "apiHosts": API_HOSTS,
        "ingressClassName": "nginx",
        "ingressNamespace": INGRESS_NAMESPACE,
        "monitoringNamespace": MONITORING_NAMESPACE,
        "tracingNamespace": "tracing",
        "otlpEndpoint": "http://otel-collector.tracing.svc:4317",
        "prometheusAddress": PROMETHEUS,
        "sloLatencySeconds": 0.5,
        "serviceMonitorLabels": {"release": "kube-prometheus-stack"},
        "clusterSecretStore": "aws-secrets-manager",
        "vpcCidr": "10.0.0.0/16",
        "llmEgressCidrs": LLM_CIDRS,
        "llmProviderSecrets": [
            {"name": "anthropic-api-key", "remoteKey": f"agent-factory-{env}/app/anthropic-api-key"}
        ],
        "dataStores": {
            "postgres": {
                "host": f"agent-factory-{env}.cluster-abc.us-east-1.rds.amazonaws.com",
                "port": 5432,
                "database": "agentfactory",
                "user": "agent_factory",
                "cidrs": ["10.0.48.0/24", "10.0.49.0/24", "10.0.50.0/24"],
            },
            "cache": {
                "host": f"clustercfg.agent-factory-{env}.abc.use1.cache.amazonaws.com",
                "port": 6379,
                "cidrs": ["10.0.48.0/24", "10.0.49.0/24", "10.0.50.0/24"],
                "authSecretKey": f"agent-factory-{env}/cache/auth-token",
            },
            "kafka": {
                "enabled": kafka,
                "bootstrapBrokers": "b-1.af.abc.c2.kafka.us-east-1.amazonaws.com:9098,"
                "b-2.af.abc.c2.kafka.us-east-1.amazonaws.com:9098",
                "port": 9098,
                "cidrs": ["10.0.48.0/24", "10.0.49.0/24", "10.0.50.0/24"],
                "topic": "agent-tasks",
                "consumerGroup": "agent-worker",
            },
            "artifactsBucket": f"agent-factory-{env}-artifacts",
        },
    }
    workloads = {
        name: {
            "image": {"repository": f"agent-factory/{name}", "tag": "1.0.0", "digest": DIGEST},
            "serviceAccountName": name,
            "nodeSelector": {"workload-type": "agent-factory"},
            "tolerations": [
                {"key": "workload", "operator": "Equal", "value": "agents", "effect": "NoSchedule"}
            ],
        }
        for name in WORKLOADS
    }
    return {"global": global_, "workloads": workloads}


def values_for(env: str, **overrides: Any) -> dict[str, Any]:
    return layered([CHART / f"values-{env}.yaml"], pulumi_values(env, **overrides))


def render_env(values: dict[str, Any], env: str) -> Objects:
    return render(CHART, values, release="agent-factory", namespace=f"greenlang-{env}")


@pytest.fixture(scope="module")
def rendered() -> Callable[[str], Objects]:
    cache: dict[str, Objects] = {}

    def get(env: str) -> Objects:
        if env not in cache:
            cache[env] = render_env(values_for(env), env)
        return cache[env]

    return get


def of_kind(objects: Objects, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def cores(quantity: str | float) -> float:
    text = str(quantity)
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)


def gib(quantity: str) -> float:
    units = {"Ki": 1 / 1024**2, "Mi": 1 / 1024, "Gi": 1.0, "Ti": 1024.0}
    return int(quantity[:-2]) * units[quantity[-2:]]


def max_replicas(objects: Objects) -> dict[str, int]:
    """Workload -> most replicas its autoscaler may run."""
    result = {
        o["spec"]["scaleTargetRef"]["name"]: o["spec"]["maxReplicas"]
        for o in objects
        if o["kind"] == "HorizontalPodAutoscaler"
    }
    result.update(
        {
            o["spec"]["scaleTargetRef"]["name"]: o["spec"]["maxReplicaCount"]
            for o in objects
            if o["kind"] == "ScaledObject"
        }
    )
    return result


def min_replicas(objects: Objects) -> dict[str, int]:
    result = {
        o["spec"]["scaleTargetRef"]["name"]: o["spec"]["minReplicas"]
        for o in objects
        if o["kind"] == "HorizontalPodAutoscaler"
    }
    result.update(
        {
            o["spec"]["scaleTargetRef"]["name"]: o["spec"]["minReplicaCount"]
            for o in objects
            if o["kind"] == "ScaledObject"
        }
    )
    return result


def peers(rules: list[dict[str, Any]], key: str) -> Iterator[tuple[dict[str, Any], set[int]]]:
    for rule in rules:
        ports = {p["port"] for p in rule.get("ports", [])}
        for peer in rule[key]:
            yield peer, ports


# -- lint and schema ---------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_lint_is_clean(env: str) -> None:
    assert [str(m) for m in lint(CHART, values_for(env))] == []


def test_values_files_set_no_global() -> None:
    # global.* belongs to the Pulumi program; an env file that set it would be overridden
    # silently (or, worse, used when Pulumi leaves a key out).
    for env in ENVIRONMENTS:
        assert "global" not in layered([CHART / f"values-{env}.yaml"], {})


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda v: v["workloads"]["worker"]["image"].update(tag="latest"), "image/tag"),
        (lambda v: v["workloads"]["api-gateway"]["image"].update(tag="LATEST"), "image/tag"),
        (
            lambda v: v["workloads"]["agent-runtime"]["image"].update(digest="sha256:abc123"),
            r"image/digest.*does not match",
        ),
        (
            lambda v: v["workloads"]["agent-runtime"]["image"].update(digest="A" * 64),
            r"image/digest.*does not match",
        ),
        (lambda v: v["global"].update(unexpected=True), "additional properties"),
        (lambda v: v["global"].update(environment="qa"), "global/environment"),
        (lambda v: v["global"].update(vpcCidr="10.0.0.0"), "global/vpcCidr"),
        (
            lambda v: v["workloads"]["worker"].update(delivery={"strategy": "recreate"}),
            "delivery/strategy",
        ),
        (
            lambda v: v.update(progressiveDelivery={"analysis": {"maxErrorRate": 5}}),
            "maxErrorRate",
        ),
        (
            lambda v: v.update(
                progressiveDelivery={"canary": {"steps": [{"setWeight": 100, "pause": "1m"}]}}
            ),
            "canary/steps",
        ),
    ],
)
def test_schema_rejects(change: Callable[[dict[str, Any]], None], match: str) -> None:
    values = copy.deepcopy(values_for("prod"))
    change(values)
    with pytest.raises(HelmError, match=match):
        render_env(values, "prod")


def test_pdb_at_min_replicas_fails_the_render() -> None:
    values = copy.deepcopy(values_for("prod"))
    values["workloads"]["agent-registry"]["pdb"] = {"minAvailable": 3}
    with pytest.raises(HelmError, match=r"agent-registry\.pdb\.minAvailable \(3\) must be below"):
        render_env(values, "prod")


def test_memory_limit_must_equal_request() -> None:
    values = copy.deepcopy(values_for("staging"))
    values["workloads"]["worker"]["resources"]["limits"]["memory"] = "2Gi"
    with pytest.raises(HelmError, match=r"memory limit .* must equal the memory request"):
        render_env(values, "staging")


def test_llm_workloads_need_an_egress_allow_list() -> None:
    values = copy.deepcopy(values_for("dev"))
    values["global"]["llmEgressCidrs"] = []
    with pytest.raises(HelmError, match="llmEgressCidrs is empty"):
        render_env(values, "dev")


def test_disabled_workload_renders_nothing_and_needs_no_image() -> None:
    values = copy.deepcopy(values_for("dev"))
    values["workloads"]["agent-registry"] = {"enabled": False, "image": {"tag": "", "digest": ""}}
    objects = render_env(values, "dev")
    assert not [o for o in objects if o["metadata"]["name"].startswith("agent-registry")]
    # Nobody is allowed to call a workload that is not there.
    for policy in of_kind(objects, "NetworkPolicy").values():
        for rule in policy["spec"]["egress"]:
            for peer in rule["to"]:
                labels = peer.get("podSelector", {}).get("matchLabels", {})
                assert labels.get("app.kubernetes.io/component") != "agent-registry"


# -- what renders ------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_object_is_namespaced_and_labelled(env: str, rendered: Any) -> None:
    for obj in rendered(env):
        metadata = obj["metadata"]
        assert metadata["namespace"] == f"greenlang-{env}", obj["kind"]
        labels = metadata["labels"]
        assert all(labels.get(key) for key in LABELS), (obj["kind"], metadata["name"])
        assert labels["app.kubernetes.io/part-of"] == "agent-factory"
        assert obj["kind"] != "ServiceAccount"  # Pulumi creates them, with their IRSA roles


def pod_owners(objects: Objects) -> dict[str, dict[str, Any]]:
    """Workload -> its Deployment or Rollout."""
    return {**of_kind(objects, "Deployment"), **of_kind(objects, "Rollout")}


def scale_target(name: str) -> dict[str, str]:
    if name in ROLLOUTS:
        return {"apiVersion": ROLLOUT_API, "kind": "Rollout", "name": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_deployments_and_rollouts_are_restricted_pinned_and_probed(env: str, rendered: Any) -> None:
    objects = rendered(env)
    assert sorted(of_kind(objects, "Deployment")) == sorted(DEPLOYMENTS)
    assert sorted(of_kind(objects, "Rollout")) == sorted(ROLLOUTS)
    for name, owner in pod_owners(objects).items():
        spec = owner["spec"]
        assert "replicas" not in spec, f"{name}: its autoscaler owns the replica count"
        if owner["kind"] == "Deployment":
            assert spec["strategy"] == {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            }
        else:
            assert list(spec["strategy"]) == [ROLLOUTS[name]]
        pod = spec["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["serviceAccountName"] == name
        assert pod["nodeSelector"] == {"workload-type": "agent-factory"}
        assert pod["tolerations"][0]["key"] == "workload"
        assert pod["terminationGracePeriodSeconds"] >= 30
        assert pod["securityContext"] == {
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "fsGroup": 65532,
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        zone, host = pod["topologySpreadConstraints"]
        # Spread per revision: Argo Rollouts labels its pods rollouts-pod-template-hash.
        revision = "rollouts-pod-template-hash" if name in ROLLOUTS else "pod-template-hash"
        assert zone["matchLabelKeys"] == host["matchLabelKeys"] == [revision]
        assert (zone["topologyKey"], zone["maxSkew"]) == ("topology.kubernetes.io/zone", 1)
        assert host["topologyKey"] == "kubernetes.io/hostname"
        expected_zone = "ScheduleAnyway" if env == "dev" else "DoNotSchedule"
        assert zone["whenUnsatisfiable"] == expected_zone
        assert pod["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}]
        [container] = pod["containers"]
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
        image = container["image"]
        assert image == f"{REGISTRY}/agent-factory/{name}:1.0.0@{DIGEST}"
        assert image.endswith(f"@{DIGEST}") and "latest" not in image
        assert container["imagePullPolicy"] == "IfNotPresent"
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"http": 8080, "metrics": 9090}
        probes = {
            kind: (container[kind]["httpGet"]["path"], container[kind]["httpGet"]["port"])
            for kind in ("livenessProbe", "readinessProbe", "startupProbe")
        }
        assert probes == {
            "livenessProbe": ("/livez", "http"),
            "readinessProbe": ("/readyz", "http"),
            "startupProbe": ("/livez", "http"),
        }
        startup = container["startupProbe"]
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 120
        resources = container["resources"]
        for kind in ("requests", "limits"):
            assert set(resources[kind]) == {"cpu", "memory"}, f"{name}: {kind}"
        assert resources["limits"]["memory"] == resources["requests"]["memory"]
        assert cores(resources["limits"]["cpu"]) >= cores(resources["requests"]["cpu"])
        assert container["envFrom"] == [{"configMapRef": {"name": name}}]
        secret_env = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"]}
        if name in LLM_WORKLOADS:
            assert secret_env["ANTHROPIC_API_KEY"] == f"{name}-llm"
        else:
            assert "ANTHROPIC_API_KEY" not in secret_env
        assert secret_env["CACHE_AUTH_TOKEN"] == f"{name}-cache"
        assert not [key for key in secret_env if "PASSWORD" in key]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_services_and_monitors(env: str, rendered: Any) -> None:
    objects = rendered(env)
    services = of_kind(objects, "Service")
    monitors = of_kind(objects, "ServiceMonitor")
    assert sorted(monitors) == sorted(WORKLOADS)
    # The blue-green gateway's preview Service reaches its new pods before the switch.
    assert sorted(services) == sorted([*WORKLOADS, "api-gateway-preview"])
    assert services["api-gateway-preview"]["spec"] == services["api-gateway"]["spec"]
    for name, service in services.items():
        assert service["spec"]["type"] == "ClusterIP"
        ports = {(p["name"], p["port"], p["targetPort"]) for p in service["spec"]["ports"]}
        assert ports == {("http", 80, "http"), ("metrics", 9090, "metrics")}
        if name not in monitors:
            continue
        monitor = monitors[name]
        # The analyses tell the new pods by their revision label.
        hashed = monitor["spec"].get("podTargetLabels")
        assert hashed == (["rollouts-pod-template-hash"] if name in ROLLOUTS else None)
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        assert monitor["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
        assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics"]
        assert monitor["spec"]["namespaceSelector"] == {"matchNames": [f"greenlang-{env}"]}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_config_maps_and_secrets(env: str, rendered: Any) -> None:
    objects = rendered(env)
    configs = of_kind(objects, "ConfigMap")
    assert sorted(configs) == sorted(WORKLOADS)
    for config in configs.values():
        data = config["data"]
        assert all(isinstance(value, str) for value in data.values())
        assert (data["ENVIRONMENT"], data["REGION"]) == (env, "us-east-1")
        assert data["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.tracing.svc:4317"
        if "DATABASE_HOST" in data:
            assert data["DATABASE_AUTH"] == "iam"
            assert data["DATABASE_PORT"] == "5432"
        assert not [key for key in data if "PASSWORD" in key or "TOKEN" in key]
    assert "DATABASE_HOST" not in configs["api-gateway"]["data"]
    assert configs["worker"]["data"]["KAFKA_CONSUMER_GROUP"] == "agent-worker"
    assert configs["agent-factory"]["data"]["AGENT_REGISTRY_URL"] == "http://agent-registry"
    assert configs["api-gateway"]["data"]["AGENT_RUNTIME_URL"] == "http://agent-runtime"

    secrets = of_kind(objects, "ExternalSecret")
    expected = {f"{w}-cache" for w in WORKLOADS} | {f"{w}-llm" for w in LLM_WORKLOADS}
    assert set(secrets) == expected
    for name, secret in secrets.items():
        assert secret["apiVersion"] == "external-secrets.io/v1"
        spec = secret["spec"]
        assert spec["secretStoreRef"] == {
            "kind": "ClusterSecretStore",
            "name": "aws-secrets-manager",
        }
        assert spec["refreshInterval"] == "1h"
        assert spec["target"] == {"name": name, "creationPolicy": "Owner"}
        keys = {d["remoteRef"]["key"] for d in spec["data"]}
        if name.endswith("-llm"):
            assert keys == {f"agent-factory-{env}/app/anthropic-api-key"}
        else:
            assert keys == {f"agent-factory-{env}/cache/auth-token"}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_autoscaling_ranges_are_the_environments(env: str, rendered: Any) -> None:
    objects = rendered(env)
    values = values_for(env)["workloads"]
    hpas = of_kind(objects, "HorizontalPodAutoscaler")
    assert sorted(hpas) == sorted(HPA_WORKLOADS)  # KEDA makes the worker's own HPA
    for name, hpa in hpas.items():
        spec = hpa["spec"]
        wanted = values[name]["autoscaling"]
        assert (spec["minReplicas"], spec["maxReplicas"]) == (
            wanted["minReplicas"],
            wanted["maxReplicas"],
        )
        assert spec["scaleTargetRef"] == scale_target(name)
        metrics = {m["resource"]["name"]: m["resource"]["target"] for m in spec["metrics"]}
        assert metrics["cpu"] == {"type": "Utilization", "averageUtilization": 70}
        assert "memory" in metrics
        up, down = spec["behavior"]["scaleUp"], spec["behavior"]["scaleDown"]
        assert up["stabilizationWindowSeconds"] == 0 and up["selectPolicy"] == "Max"
        assert {(p["type"], p["value"], p["periodSeconds"]) for p in up["policies"]} == {
            ("Percent", 100, 15),
            ("Pods", 4, 15),
        }
        assert down["stabilizationWindowSeconds"] == 300
        assert down["policies"] == [{"type": "Percent", "value": 10, "periodSeconds": 60}]
    if env == "prod":  # the seed's Sprint 11 ranges
        assert max_replicas(objects) == {
            "agent-factory": 50,
            "agent-runtime": 200,
            "agent-registry": 10,
            "api-gateway": 30,
            "worker": 50,
        }
        assert min_replicas(objects) == {
            "agent-factory": 3,
            "agent-runtime": 10,
            "agent-registry": 3,
            "api-gateway": 3,
            "worker": 5,
        }


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize("kafka", [True, False])
def test_worker_scales_with_keda(env: str, kafka: bool, rendered: Any) -> None:
    objects = rendered(env) if kafka else render_env(values_for(env, kafka=False), env)
    values = values_for(env)["workloads"]["worker"]["autoscaling"]
    [scaled] = of_kind(objects, "ScaledObject").values()
    spec = scaled["spec"]
    assert spec["scaleTargetRef"]["name"] == "worker"
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (
        values["minReplicas"],
        values["maxReplicas"],
    )
    behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleUp"]["stabilizationWindowSeconds"] == 0
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 300
    triggers = {t["type"]: t for t in spec["triggers"]}
    crons = [t for t in spec["triggers"] if t["type"] == "cron"]
    assert len(crons) == len(values["keda"]["cron"]) >= 1
    for trigger, wanted in zip(crons, values["keda"]["cron"], strict=True):
        assert trigger["metadata"] == {k: str(v) for k, v in wanted.items()}
    auths = of_kind(objects, "TriggerAuthentication")
    if kafka:
        metadata = triggers["kafka"]["metadata"]
        assert metadata["consumerGroup"] == "agent-worker"
        assert metadata["topic"] == "agent-tasks"
        assert metadata["bootstrapServers"].endswith(":9098")
        assert metadata["lagThreshold"] == str(values["keda"]["lagThreshold"])
        assert (metadata["sasl"], metadata["saslTokenProvider"]) == ("oauthbearer", "aws_msk_iam")
        assert (metadata["tls"], metadata["awsRegion"]) == ("enable", "us-east-1")
        auth = triggers["kafka"]["authenticationRef"]["name"]
        assert auths[auth]["spec"]["podIdentity"] == {
            "provider": "aws",
            "identityOwner": "keda",
        }
    else:
        assert "kafka" not in triggers and not auths
        for name, config in of_kind(objects, "ConfigMap").items():
            assert not [k for k in config["data"] if k.startswith("KAFKA_")], name
        for name, policy in of_kind(objects, "NetworkPolicy").items():
            ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
            assert 9098 not in ports, name


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_vpas_only_recommend(env: str, rendered: Any) -> None:
    vpas = of_kind(rendered(env), "VerticalPodAutoscaler")
    assert sorted(vpas) == sorted(WORKLOADS)
    for name, vpa in vpas.items():
        spec = vpa["spec"]
        assert spec["targetRef"] == scale_target(name)
        assert spec["updatePolicy"] == {"updateMode": "Off"}
        [policy] = spec["resourcePolicy"]["containerPolicies"]
        assert policy["containerName"] == name
        low, high = policy["minAllowed"], policy["maxAllowed"]
        assert cores(low["cpu"]) < cores(high["cpu"]) and gib(low["memory"]) < gib(high["memory"])


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_pdbs_leave_room_to_drain(env: str, rendered: Any) -> None:
    objects = rendered(env)
    pdbs = of_kind(objects, "PodDisruptionBudget")
    minimum = min_replicas(objects)
    assert sorted(pdbs) == sorted(WORKLOADS)
    for name, pdb in pdbs.items():
        available = pdb["spec"]["minAvailable"]
        assert available == (2 if env == "prod" else 1)
        assert available < minimum[name], name
        selector = pdb["spec"]["selector"]["matchLabels"]
        assert selector["app.kubernetes.io/component"] == name


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_quota_admits_every_workload_at_max_plus_its_surge(env: str, rendered: Any) -> None:
    objects = rendered(env)
    ceiling = max_replicas(objects)
    cpu = memory = cpu_limits = memory_limits = 0.0
    for name, owner in pod_owners(objects).items():
        # maxSurge 1 during a rolling update or a canary at the ceiling; blue-green runs a
        # full preview next to the active pods until the switch.
        surge = ceiling[name] if ROLLOUTS.get(name) == "blueGreen" else 1
        pods = ceiling[name] + surge
        [container] = owner["spec"]["template"]["spec"]["containers"]
        requests, limits = container["resources"]["requests"], container["resources"]["limits"]
        cpu += pods * cores(requests["cpu"])
        memory += pods * gib(requests["memory"])
        cpu_limits += pods * cores(limits["cpu"])
        memory_limits += pods * gib(limits["memory"])
    quota_cpu, quota_memory, quota_cpu_limits, quota_memory_limits = QUOTAS[env]
    assert cpu <= quota_cpu, f"{env}: {cpu} cores of requests at max"
    assert memory <= quota_memory, f"{env}: {memory} GiB of requests at max"
    assert cpu_limits <= quota_cpu_limits, f"{env}: {cpu_limits} cores of limits at max"
    assert memory_limits <= quota_memory_limits, f"{env}: {memory_limits} GiB of limits"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_network_policies_admit_only_named_peers(env: str, rendered: Any) -> None:
    policies = of_kind(rendered(env), "NetworkPolicy")
    assert sorted(policies) == sorted(WORKLOADS)
    for name, policy in policies.items():
        spec = policy["spec"]
        assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == name
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        # A rule without peers or ports would undo the namespace's default deny.
        assert all(rule["from"] and rule["ports"] for rule in spec["ingress"]), name
        assert all(rule["to"] and rule["ports"] for rule in spec["egress"]), name

        app_callers: set[str] = set()
        for peer, ports in peers(spec["ingress"], "from"):
            namespace = peer.get("namespaceSelector", {}).get("matchLabels", {})
            if ports == {9090}:
                assert namespace == {"kubernetes.io/metadata.name": MONITORING_NAMESPACE}
                continue
            assert ports == {8080}, name
            if "namespaceSelector" in peer:
                assert name == "api-gateway", f"{name} admits another namespace"
                assert namespace == {"kubernetes.io/metadata.name": INGRESS_NAMESPACE}
                assert "podSelector" not in peer and "ipBlock" not in peer
            else:
                assert set(peer) == {"podSelector"}, name
                app_callers.add(peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"])
        expected_callers = {
            "api-gateway": set(),
            "agent-factory": {"api-gateway"},
            "agent-registry": {"api-gateway", "agent-factory"},
            "agent-runtime": {"api-gateway", "agent-factory"},
            "worker": set(),
        }[name]
        assert app_callers == expected_callers, name

        https = [
            peer["ipBlock"]["cidr"]
            for peer, ports in peers(spec["egress"], "to")
            if ports == {443} and "ipBlock" in peer
        ]
        llm = [cidr for cidr in https if cidr != "10.0.0.0/16"]
        assert llm == (LLM_CIDRS if name in LLM_WORKLOADS else []), name
        for peer, _ports in peers(spec["egress"], "to"):
            # Pods never reach the internet at large (nor instance metadata).
            if "ipBlock" in peer:
                assert not peer["ipBlock"]["cidr"].endswith("/0"), name


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_ingress_serves_the_api_hosts_with_the_default_certificate(env: str, rendered: Any) -> None:
    ingresses = of_kind(rendered(env), "Ingress")
    assert list(ingresses) == ["api-gateway"]
    spec = ingresses["api-gateway"]["spec"]
    annotations = ingresses["api-gateway"]["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/ssl-redirect"] == "true"
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == [{"hosts": API_HOSTS}]  # no secretName: the wildcard default
    assert [rule["host"] for rule in spec["rules"]] == API_HOSTS
    for rule in spec["rules"]:
        paths = {(p["path"], p["pathType"]): p["backend"]["service"] for p in rule["http"]["paths"]}
        assert paths == {
            ("/healthz", "Exact"): {"name": "api-gateway", "port": {"name": "http"}},
            ("/", "Prefix"): {"name": "api-gateway", "port": {"name": "http"}},
        }


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_objects_match_the_kubernetes_api(env: str, rendered: Any) -> None:
    unknown = set()
    for obj in rendered(env):
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            unknown.add(obj["kind"])  # a CRD's kind: no built-in schema to check against
    assert unknown == CRD_KINDS


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_rollouts_match_their_crds_and_their_pods_the_kubernetes_api(
    env: str, rendered: Any
) -> None:
    """The Argo Rollouts kinds have no built-in schema: the pod template is validated as
    what it is (a core/v1 PodTemplateSpec, wrapped in a PodTemplate), the rest against
    the closed envelope of tests/argo_schemas.py."""
    checked = []
    for obj in rendered(env):
        schema = argo_schemas.SCHEMAS.get(obj["kind"])
        if schema is None:
            continue
        jsonschema.validate(obj, schema)
        if obj["kind"] == "Rollout":
            template = {
                "apiVersion": "v1",
                "kind": "PodTemplate",
                "metadata": {"name": obj["metadata"]["name"], "namespace": f"greenlang-{env}"},
                "template": obj["spec"]["template"],
            }
            kubernetes_validate.validate(template, KUBERNETES_VERSION, strict=True)
        checked.append((obj["kind"], obj["metadata"]["name"]))
    assert sorted(checked) == [
        ("AnalysisTemplate", "error-rate"),
        ("AnalysisTemplate", "p95-latency"),
        ("AnalysisTemplate", "smoke"),
        ("Rollout", "agent-factory"),
        ("Rollout", "api-gateway"),
    ]


def test_the_rollout_envelope_refuses_what_the_crd_would_drop(rendered: Any) -> None:
    rollout = copy.deepcopy(of_kind(rendered("dev"), "Rollout")["api-gateway"])
    strategy = rollout["spec"]["strategy"]["blueGreen"]
    strategy["postPromotionAnalysys"] = strategy.pop("postPromotionAnalysis")
    with pytest.raises(jsonschema.ValidationError, match="postPromotionAnalysys"):
        jsonschema.validate(rollout, argo_schemas.ROLLOUT)
    # A root container in the pod template fails the built-in schema's sibling check: the
    # pack's, tested in tests/test_services.py; here a wrong type fails the PodTemplateSpec.
    template = copy.deepcopy(of_kind(rendered("dev"), "Rollout")["agent-factory"]["spec"])
    template["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "http"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(
            {
                "apiVersion": "v1",
                "kind": "PodTemplate",
                "metadata": {"name": "agent-factory"},
                "template": template["template"],
            },
            KUBERNETES_VERSION,
            strict=True,
        )


# -- progressive delivery ----------------------------------------------------------------


def _analysis_args(analysis: dict[str, Any]) -> dict[str, Any]:
    return {a["name"]: a.get("value", a.get("valueFrom")) for a in analysis["args"]}


NEW_PODS = {"podTemplateHashValue": "Latest"}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_gateway_switches_blue_green_after_a_smoke_analysis(env: str, rendered: Any) -> None:
    objects = rendered(env)
    strategy = of_kind(objects, "Rollout")["api-gateway"]["spec"]["strategy"]["blueGreen"]
    assert strategy["activeService"] == "api-gateway"
    assert strategy["previewService"] == "api-gateway-preview"
    assert strategy["autoPromotionEnabled"] is True
    assert strategy["scaleDownDelaySeconds"] == 30
    pre, post = strategy["prePromotionAnalysis"], strategy["postPromotionAnalysis"]
    # Before the switch: the preview's new pods; after it: the active Service's new pods.
    assert [t["templateName"] for t in pre["templates"]] == ["smoke"]
    assert _analysis_args(pre) == {"service": "api-gateway-preview", "hash": NEW_PODS}
    assert [t["templateName"] for t in post["templates"]] == ["error-rate", "p95-latency"]
    assert _analysis_args(post) == {"service": "api-gateway", "hash": NEW_PODS}
    # The Ingress keeps routing to the active Service, whose name did not change.
    [ingress] = of_kind(objects, "Ingress").values()
    backends = {
        p["backend"]["service"]["name"]
        for r in ingress["spec"]["rules"]
        for p in r["http"]["paths"]
    }
    assert backends == {"api-gateway"}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_agent_factory_ships_as_a_canary_with_pauses_and_analyses(env: str, rendered: Any) -> None:
    rollout = of_kind(rendered(env), "Rollout")["agent-factory"]
    canary = rollout["spec"]["strategy"]["canary"]
    assert (canary["maxSurge"], canary["maxUnavailable"]) == (1, 0)
    analysis = {
        "analysis": {
            "templates": [{"templateName": "error-rate"}, {"templateName": "p95-latency"}],
            "args": [
                {"name": "service", "value": "agent-factory"},
                {"name": "hash", "valueFrom": NEW_PODS},
            ],
        }
    }
    assert canary["steps"] == [
        {"setWeight": 20},
        {"pause": {"duration": "2m"}},
        analysis,
        {"setWeight": 50},
        {"pause": {"duration": "2m"}},
        analysis,
    ]
    assert rollout["spec"]["progressDeadlineAbort"] is True


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_analyses_abort_above_5_percent_errors_or_the_slo_latency_for_2_minutes(
    env: str, rendered: Any
) -> None:
    templates = of_kind(rendered(env), "AnalysisTemplate")
    assert sorted(templates) == ["error-rate", "p95-latency", "smoke"]
    metrics = {}
    for name, template in templates.items():
        assert [a["name"] for a in template["spec"]["args"]] == ["service", "hash"]
        [metric] = template["spec"]["metrics"]
        assert metric["provider"]["prometheus"]["address"] == PROMETHEUS
        assert metric["failureLimit"] == 0, f"{name}: the first failed measurement aborts"
        assert metric["interval"] == "30s"
        # The first measurement waits out the window it judges.
        assert metric["initialDelay"] == "2m"
        metrics[name] = metric
    errors, latency, smoke = metrics["error-rate"], metrics["p95-latency"], metrics["smoke"]
    assert errors["failureCondition"] == "result[0] > 0.05"
    assert errors["successCondition"] == "result[0] <= 0.05"
    assert latency["failureCondition"] == "result[0] > 0.5"
    assert (errors["count"], latency["count"], smoke["count"]) == (10, 10, 4)
    assert smoke["successCondition"] == "result[0] == 1"
    selector = (
        f'namespace="greenlang-{env}",service="{{{{args.service}}}}",'
        'rollouts_pod_template_hash="{{args.hash}}"'
    )
    error_query = errors["provider"]["prometheus"]["query"]
    # Held for 2 minutes: the lowest ratio of the window, every 30 s, must cross 5 %.
    assert error_query.startswith("min_over_time((")
    assert error_query.endswith(")[2m:30s]) or on() vector(0)")
    assert (
        f'http_server_request_duration_seconds_count{{{selector},http_response_status_code=~"5.."}}'
        in error_query
    )
    assert f"http_server_request_duration_seconds_count{{{selector}}}" in error_query
    latency_query = latency["provider"]["prometheus"]["query"]
    assert "histogram_quantile(0.95, sum by (le) (rate(" in latency_query
    assert f"http_server_request_duration_seconds_bucket{{{selector}}}" in latency_query
    assert smoke["provider"]["prometheus"]["query"] == f"min(up{{{selector}}}) or on() vector(0)"


def test_a_rollout_needs_the_prometheus_address() -> None:
    values = values_for("dev")
    values["global"]["prometheusAddress"] = ""
    with pytest.raises(HelmError, match=r"global\.prometheusAddress is empty"):
        render_env(values, "dev")


def test_without_progressive_delivery_every_workload_is_a_deployment() -> None:
    values = values_for("dev")
    for name in ROLLOUTS:
        values["workloads"][name]["delivery"] = {"strategy": "rolling"}
    values["global"]["prometheusAddress"] = ""
    objects = render_env(values, "dev")
    assert sorted(of_kind(objects, "Deployment")) == sorted(WORKLOADS)
    assert not of_kind(objects, "Rollout") and not of_kind(objects, "AnalysisTemplate")
    assert "api-gateway-preview" not in of_kind(objects, "Service")


# -- one release per workload (the ApplicationSet's Applications) -----------------------


def _key(document: dict[str, Any]) -> tuple[str, str, str]:
    return (document["kind"], document["metadata"]["namespace"], document["metadata"]["name"])


def render_only(values: dict[str, Any], env: str, *workloads: str) -> Objects:
    return render_env({**values, "render": list(workloads)}, env)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_workloads_releases_together_render_the_whole_chart_once(
    rendered: Callable[[str], Objects], env: str
) -> None:
    """Each workload's release renders its own objects exactly as the whole chart does
    (the NetworkPolicies still admit every caller and reach every callee); the
    AnalysisTemplates the Rollouts share go with agent-factory's, the Ingress with the
    gateway's; nothing is rendered twice."""
    whole = rendered(env)
    values = values_for(env)
    union: Objects = []
    for workload in WORKLOADS:
        objects = render_only(values, env, workload)
        components = {o["metadata"]["labels"]["app.kubernetes.io/component"] for o in objects}
        shared = {"analysis"} if workload == "agent-factory" else set()
        assert components == {workload} | shared, workload
        assert ("Ingress" in {o["kind"] for o in objects}) is (workload == "api-gateway")
        union.extend(objects)
    assert len({_key(o) for o in union}) == len(union)
    assert {_key(o): o for o in union} == {_key(o): o for o in whole}
    # The gateway's policy lets it reach agent-factory, and agent-factory's admits it,
    # though each is rendered without the other.
    (factory_policy,) = [
        o for o in render_only(values, env, "agent-factory") if o["kind"] == "NetworkPolicy"
    ]
    callers = [
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        for rule in factory_policy["spec"]["ingress"]
        for peer in rule["from"]
        if "podSelector" in peer
    ]
    assert "api-gateway" in callers


def test_the_shared_analyses_follow_the_first_progressive_workload() -> None:
    """With agent-factory back on a Deployment, the gateway's release (the one Rollout
    left) renders the AnalysisTemplates; agent-factory's renders none."""
    values = copy.deepcopy(values_for("dev"))
    values["workloads"]["agent-factory"]["delivery"] = {"strategy": "rolling"}
    analyses = {
        workload: sorted(of_kind(render_only(values, "dev", workload), "AnalysisTemplate"))
        for workload in ("agent-factory", "api-gateway")
    }
    assert analyses == {
        "agent-factory": [],
        "api-gateway": ["error-rate", "p95-latency", "smoke"],
    }


def test_a_release_of_one_workload_keeps_its_guards() -> None:
    """The guards judge what a release renders: the worker's PDB fails the worker's release
    and not the gateway's; the one-ingress check still sees every workload."""
    values = copy.deepcopy(values_for("prod"))
    values["workloads"]["worker"]["pdb"] = {"minAvailable": 5}
    with pytest.raises(HelmError, match=r"worker\.pdb\.minAvailable \(5\) must be below"):
        render_only(values, "prod", "worker")
    assert of_kind(render_only(values, "prod", "api-gateway"), "PodDisruptionBudget")
    values = copy.deepcopy(values_for("prod"))
    values["workloads"]["worker"]["ingress"] = {"enabled": True}
    with pytest.raises(HelmError, match=r"api-gateway and workloads\.worker both set ingress"):
        render_only(values, "prod", "api-gateway")


def test_render_names_only_enabled_workloads_of_the_chart() -> None:
    values = copy.deepcopy(values_for("dev"))
    values["workloads"]["worker"]["enabled"] = False
    with pytest.raises(HelmError, match="render names worker, which is not an enabled workload"):
        render_only(values, "dev", "worker")
    with pytest.raises(HelmError, match="render"):
        render_only(values_for("dev"), "dev", "billing")
    with pytest.raises(HelmError, match="render"):
        render_only(values_for("dev"), "dev", "worker", "worker")
