"""NodePools: spot split, sizes per environment, launch templates, autoscaler."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from components.cluster.nodepools import capacity_groups, split_capacity
from components.footprint import FOOTPRINTS_OUTPUT
from components.settings import NodePoolSettings
from tests.conftest import by_name
from tools.synth import Plan, PlannedResource

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"


@pytest.mark.parametrize("percentage", [0, 1, 33, 50, 60, 80, 99, 100])
def test_split_always_adds_up_and_is_monotonic(percentage: int) -> None:
    previous = (0, 0)
    for total in range(0, 201):
        on_demand, spot = split_capacity(total, percentage)
        assert on_demand + spot == total
        assert on_demand >= previous[0]
        assert spot >= previous[1]
        previous = (on_demand, spot)


def test_split_rounds_spot_half_up() -> None:
    assert split_capacity(10, 60) == (4, 6)
    assert split_capacity(5, 50) == (2, 3)
    assert split_capacity(1, 50) == (0, 1)
    assert split_capacity(1, 49) == (1, 0)


def test_groups_with_no_share_are_left_out() -> None:
    all_spot = NodePoolSettings.model_validate(
        {
            "instanceTypes": ["m6i.large"],
            "spotInstanceTypes": ["m6i.large", "m5.large"],
            "minSize": 1,
            "maxSize": 4,
            "spotPercentage": 100,
        }
    )
    assert [g.capacity_type for g in capacity_groups(all_spot)] == ["SPOT"]


def groups_of(plan: Plan, pool: str) -> dict[str, PlannedResource]:
    groups = by_name(plan, NODE_GROUP)
    prefix = f"{plan.stack}-nodes-{pool}-"
    return {name.removeprefix(prefix): g for name, g in groups.items() if name.startswith(prefix)}


def scaling(group: PlannedResource) -> tuple[int, int, int]:
    config = group.inputs["scalingConfig"]
    return config["minSize"], config["maxSize"], config["desiredSize"]


@pytest.mark.parametrize(
    ("pool", "on_demand", "spot", "percentage"),
    [
        ("agent-runtime", (4, 40, 4), (6, 60, 6), 60),
        ("worker", (1, 10, 1), (4, 40, 4), 80),
    ],
)
def test_prod_spot_pools_split_the_seed_totals(
    plan_of: Callable[[str], Plan],
    pool: str,
    on_demand: tuple[int, int, int],
    spot: tuple[int, int, int],
    percentage: int,
) -> None:
    groups = groups_of(plan_of("prod"), pool)
    assert set(groups) == {"on-demand", "spot"}
    assert scaling(groups["on-demand"]) == on_demand
    assert scaling(groups["spot"]) == spot
    assert groups["on-demand"].inputs["capacityType"] == "ON_DEMAND"
    assert groups["spot"].inputs["capacityType"] == "SPOT"
    total_max = on_demand[1] + spot[1]
    assert spot[1] * 100 == percentage * total_max
    spot_types = groups["spot"].inputs["instanceTypes"]
    assert len(spot_types) >= 2
    assert len({t.split(".")[1] for t in spot_types}) == 1


def test_prod_on_demand_pools_match_the_seed(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    expected = {
        "system": ("m6i.xlarge", (3, 5, 3)),
        "api-gateway": ("c6i.2xlarge", (3, 10, 3)),
        "agent-factory": ("m6i.2xlarge", (3, 20, 3)),
    }
    for pool, (instance_type, sizes) in expected.items():
        groups = groups_of(plan, pool)
        assert set(groups) == {"on-demand"}
        assert groups["on-demand"].inputs["instanceTypes"] == [instance_type]
        assert scaling(groups["on-demand"]) == sizes


def test_dev_pools_are_smaller(plan_of: Callable[[str], Plan]) -> None:
    def capacity(plan: Plan) -> int:
        return sum(scaling(g)[1] for g in plan.by_type(NODE_GROUP))

    dev, prod = plan_of("dev"), plan_of("prod")
    assert capacity(dev) < capacity(plan_of("staging")) < capacity(prod)
    assert capacity(dev) == 3 + 3 + 4 + 10 + 5
    for group in dev.by_type(NODE_GROUP):
        assert all(t.endswith(".large") for t in group.inputs["instanceTypes"])


def test_labels_taints_and_ami(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    system = groups_of(plan, "system")["on-demand"].inputs
    assert system["labels"] == {
        "workload-type": "system",
        "environment": "prod",
        "capacity": "on-demand",
    }
    assert system["taints"] == [
        {"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}
    ]
    worker = groups_of(plan, "worker")["spot"].inputs
    assert worker["labels"]["workload-type"] == "worker"
    assert worker.get("taints", []) == []
    for group in plan.by_type(NODE_GROUP):
        assert group.inputs["amiType"] == "AL2023_x86_64_STANDARD"
        assert group.inputs["version"] == "1.35"
        assert group.ignore_changes == ["scalingConfig.desiredSize"]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_launch_template_requires_imdsv2_and_encrypts(
    plan_of: Callable[[str], Plan], stack: str
) -> None:
    plan = plan_of(stack)
    templates = plan.by_type(LAUNCH_TEMPLATE)
    assert len(templates) == 5
    ebs_key = by_name(plan, "aws:kms/key:Key")[f"{stack}-keys-ebs"]
    for template in templates:
        metadata = template.inputs["metadataOptions"]
        assert metadata["httpTokens"] == "required"
        assert metadata["httpPutResponseHopLimit"] == 2
        (device,) = template.inputs["blockDeviceMappings"]
        ebs = device["ebs"]
        assert (ebs["volumeType"], ebs["encrypted"]) == ("gp3", "true")
        assert ebs["kmsKeyId"] == plan.states[ebs_key.urn]["arn"]
        kinds = {spec["resourceType"] for spec in template.inputs["tagSpecifications"]}
        assert kinds == {"instance", "volume", "network-interface"}
        for spec in template.inputs["tagSpecifications"]:
            assert spec["tags"]["CostCenter"] == "agent-factory"
            assert spec["tags"]["Environment"] == stack


def test_node_groups_use_their_pool_template(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    templates = by_name(plan, LAUNCH_TEMPLATE)
    for name, group in by_name(plan, NODE_GROUP).items():
        pool = name.removeprefix("prod-nodes-").rsplit("-on-demand", 1)[0].rsplit("-spot", 1)[0]
        template = templates[f"prod-nodes-{pool}-lt"]
        assert group.inputs["launchTemplate"]["id"] == plan.states[template.urn]["id"]
        assert group.inputs["launchTemplate"]["version"] == "1"


def test_ebs_key_lets_auto_scaling_launch_encrypted_nodes(plan_of: Callable[[str], Plan]) -> None:
    key = by_name(plan_of("prod"), "aws:kms/key:Key")["prod-keys-ebs"]
    policy = json.loads(key.inputs["policy"])
    principals = [json.dumps(s["Principal"]) for s in policy["Statement"]]
    assert any("AWSServiceRoleForAutoScaling" in p for p in principals)


def test_node_role_policies(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    attached = {
        a.inputs["policyArn"].rsplit("/", 1)[1]
        for a in plan.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.name.startswith("prod-nodes-node-")
    }
    assert attached == {
        "AmazonEKSWorkerNodePolicy",
        "AmazonEC2ContainerRegistryPullOnly",
        "AmazonEKS_CNI_Policy",
        "AmazonSSMManagedInstanceCore",
    }


def test_autoscaling_groups_carry_scale_from_zero_and_cost_tags(
    plan_of: Callable[[str], Plan],
) -> None:
    plan = plan_of("prod")
    tags: dict[str, dict[str, str]] = {}
    for tag in plan.by_type("aws:autoscaling/tag:Tag"):
        group = tag.name.split("-asg-tag-")[0]
        tags.setdefault(group, {})[tag.inputs["tag"]["key"]] = tag.inputs["tag"]["value"]
        assert tag.inputs["tag"]["propagateAtLaunch"] is False
    assert len(tags) == len(plan.by_type(NODE_GROUP))
    system = tags["prod-nodes-system-on-demand"]
    template = "k8s.io/cluster-autoscaler/node-template"
    assert system[f"{template}/label/workload-type"] == "system"
    assert system[f"{template}/taint/CriticalAddonsOnly"] == "true:NoSchedule"
    assert system["CostCenter"] == "agent-factory"
    assert tags["prod-nodes-worker-spot"][f"{template}/label/capacity"] == "spot"


def test_cluster_autoscaler_release(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    release = by_name(plan, "kubernetes:helm.sh/v3:Release")["prod-nodes-cluster-autoscaler"]
    inputs = release.inputs
    assert inputs["chart"] == "cluster-autoscaler"
    # kubernetes/autoscaler gh-pages index.yaml: cluster-autoscaler 9.54.0, appVersion 1.35.0.
    assert inputs["version"] == "9.54.0"
    assert inputs["repositoryOpts"]["repo"] == "https://kubernetes.github.io/autoscaler"
    assert inputs["namespace"] == "kube-system"
    values = inputs["values"]
    assert values["extraArgs"]["expander"] == "priority"
    priorities = {int(k): v for k, v in values["expanderPriorities"].items()}
    assert priorities[max(priorities)] == [".*-spot-.*"]
    assert priorities[min(priorities)] == [".*-on-demand-.*"]
    assert values["autoDiscovery"]["clusterName"] == "agent-factory-prod"
    assert values["image"]["tag"].startswith("v1.35.")
    role = by_name(plan, "aws:iam/role:Role")["prod-nodes-autoscaler-role"]
    annotations = values["rbac"]["serviceAccount"]["annotations"]
    assert annotations["eks.amazonaws.com/role-arn"] == plan.states[role.urn]["arn"]
    trust = json.loads(role.inputs["assumeRolePolicy"])
    condition = trust["Statement"][0]["Condition"]["StringEquals"]
    assert "system:serviceaccount:kube-system:cluster-autoscaler" in condition.values()
    node_groups = {g.urn for g in plan.by_type(NODE_GROUP)}
    assert node_groups <= set(release.dependencies)


def test_autoscaler_may_only_scale_this_clusters_groups(plan_of: Callable[[str], Plan]) -> None:
    policy = by_name(plan_of("prod"), "aws:iam/rolePolicy:RolePolicy")[
        "prod-nodes-autoscaler-policy"
    ]
    statements = json.loads(policy.inputs["policy"])["Statement"]
    (write,) = [s for s in statements if "autoscaling:SetDesiredCapacity" in s["Action"]]
    assert write["Condition"]["StringEquals"] == {
        "aws:ResourceTag/k8s.io/cluster-autoscaler/agent-factory-prod": "owned"
    }


@pytest.mark.parametrize(("stack", "replicas"), [("prod", 2), ("dev", 1)])
def test_cluster_autoscaler_declares_its_footprint(
    plan_of: Callable[[str], Plan], stack: str, replicas: int
) -> None:
    plan = plan_of(stack)
    (pools,) = plan.by_type("agentfactory:platform:NodePools")
    addon = by_name(plan, "agentfactory:platform:HelmAddon")[f"{stack}-nodes-cluster-autoscaler"]
    # The release's HelmAddon registers it; NodePools no longer does.
    assert addon.parent == pools.urn and FOOTPRINTS_OUTPUT not in pools.outputs
    (footprint,) = addon.outputs[FOOTPRINTS_OUTPUT]
    release = by_name(plan, "kubernetes:helm.sh/v3:Release")[f"{stack}-nodes-cluster-autoscaler"]
    assert release.parent == addon.urn
    values = release.inputs["values"]
    assert (footprint["release"], footprint["namespace"]) == ("cluster-autoscaler", "kube-system")
    (workload,) = footprint["workloads"]
    assert workload["replicas"] == values["replicaCount"] == replicas
    # One source for the values and the footprint: they cannot drift.
    assert workload["containers"] == [values["resources"]]
    assert workload["surge"] == 1
    assert [s["type"] for s in footprint["services"]] == ["ClusterIP"]
