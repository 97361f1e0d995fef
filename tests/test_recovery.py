"""RTO and RPO from the settings (tools/recovery.py): the doc's table is its output, and the
checked-in stacks meet the seed's targets (RTO < 1 h, RPO < 15 min)."""

from __future__ import annotations

from typing import Any

import pytest

from components.settings import SettingsError, load_settings
from tests.test_multiregion import PRIMARY, SECONDARIES, raw, settings_of
from tools import recovery
from tools.synth import ROOT


def test_the_documented_table_is_the_tools_output() -> None:
    assert recovery.documented() == recovery.markdown(recovery.prod_figures(ROOT))
    assert recovery.main(["--check"]) == 0


def test_the_checked_in_stacks_meet_the_seed_targets() -> None:
    rows = recovery.prod_figures(ROOT)
    assert recovery.breaches(rows) == []
    failovers = [r for r in rows if "writes move to" in r.failure]
    assert len(failovers) == len(SECONDARIES)


def secondary(standby: dict[str, Any] | None, **data: Any) -> Any:
    multi: dict[str, Any] = {"role": "secondary", "primaryStack": PRIMARY}
    if standby is not None:
        multi["standby"] = standby
    objects: dict[str, Any] = {
        "multiRegion": multi,
        "dataStores": {"postgres": {"readReplicas": 0}},
    }
    if data:
        objects["dataStores"] = {**objects["dataStores"], **data}
    return load_settings("prod-us-west-2", "us-west-2", raw(**objects), stack_dir=ROOT)


def test_a_standby_adds_its_longest_scale_up_to_the_failover() -> None:
    full = secondary(None)
    assert recovery.scale_up_minutes(full) == 0
    nodes = secondary({"nodePoolMinPercent": 50, "minReplicasPercent": 100})
    assert recovery.scale_up_minutes(nodes) == recovery.NODE_SCALE_UP_MINUTES
    # Fewer pods too: they start once Argo CD raised their minimum and the nodes joined.
    pods = secondary({"nodePoolMinPercent": 50})
    assert recovery.scale_up_minutes(pods) == (
        recovery.NODE_SCALE_UP_MINUTES + recovery.POD_START_MINUTES
    )
    pods_only = secondary({"nodePoolMinPercent": 100, "minReplicasPercent": 50})
    assert recovery.scale_up_minutes(pods_only) == (
        recovery.ARGO_SYNC_MINUTES + recovery.POD_START_MINUTES
    )
    cache = secondary({"cacheNodeType": "cache.m7g.large"})
    assert recovery.scale_up_minutes(cache) == recovery.CACHE_SCALE_UP_MINUTES
    assert recovery.failover_rto(cache) == (
        recovery.confirm_minutes() + recovery.CACHE_SCALE_UP_MINUTES + recovery.REPOINT_MINUTES
    )


def test_a_standby_whose_scale_up_passes_an_hour_fails_the_target() -> None:
    # Every broker updated one at a time: the promotion outlasts the seed's RTO.
    slow = secondary({"kafkaBrokerInstanceType": "kafka.m5.large"})
    rows = recovery.figures(settings_of(PRIMARY), [slow])
    assert recovery.breaches(rows) == [
        f"us-east-1 fails, writes move to us-west-2 (warm standby): RTO "
        f"{recovery.failover_rto(slow):g} min"
    ]


def test_standby_shrinks_the_deployed_sizes_only() -> None:
    active, standby = (
        secondary(None),
        secondary({"nodePoolMinPercent": 25, "cacheNodeType": "cache.m7g.large"}),
    )
    for name, pool in active.node_pools.items():
        small = standby.node_pools[name]
        assert (small.max_size, small.instance_types) == (pool.max_size, pool.instance_types)
        assert small.min_size == (0 if pool.min_size == 0 else max(1, -(-pool.min_size // 4)))
        assert small.desired_size is None
    assert standby.data_stores.cache.node_type == "cache.m7g.large"
    assert (
        standby.data_stores.cache.replicas_per_shard == active.data_stores.cache.replicas_per_shard
    )


def test_the_checked_in_standby_region_deploys_its_standby_sizes(plan_of: Any) -> None:
    plan = plan_of("prod-eu-west-1")
    (cache,) = plan.by_type("aws:elasticache/replicationGroup:ReplicationGroup")
    assert cache.inputs["nodeType"] == "cache.m7g.large"
    assert cache.inputs["multiAzEnabled"] is True
    groups = {
        g.name: g.inputs["scalingConfig"] for g in plan.by_type("aws:eks/nodeGroup:NodeGroup")
    }
    assert groups["prod-eu-west-1-nodes-agent-runtime-on-demand"]["minSize"] == 1
    assert groups["prod-eu-west-1-nodes-agent-runtime-spot"]["maxSize"] == 60


@pytest.mark.parametrize(
    ("multi", "message"),
    [
        ({"role": "primary", "standby": {}}, "only a secondary may run as a warm standby"),
        (
            {"role": "secondary", "primaryStack": PRIMARY, "promoteDatabase": True, "standby": {}},
            "a promoted secondary is the writer: remove standby when promoting",
        ),
    ],
)
def test_only_an_unpromoted_secondary_may_be_in_standby(
    multi: dict[str, Any], message: str
) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings("prod-us-west-2", "us-west-2", raw(multiRegion=multi), stack_dir=ROOT)
    assert str(error.value) == f"agent-factory:multiRegion.standby: {message}"
