"""Warm standby: a secondary's effective sizes while ``multiRegion.standby`` is set.

The stack file keeps the active sizes (what the region runs once promoted); the standby
block says how much smaller it runs until then. Applied once, after validation, so every
component reads the sizes it deploys and nothing else knows about standby.
"""

from __future__ import annotations

import math
from typing import Any

from components.settings.cluster import NodePoolSettings
from components.settings.data import DataStoresSettings
from components.settings.multiregion import MultiRegionSettings, StandbySettings


def standby_min_size(active: int, percent: int) -> int:
    """``percent`` of ``active`` rounded up; a pool with a minimum keeps one node."""
    if active == 0:
        return 0
    return max(1, math.ceil(active * percent / 100))


def _pool(pool: NodePoolSettings, standby: StandbySettings) -> NodePoolSettings:
    smaller = standby_min_size(pool.min_size, standby.node_pool_min_percent)
    # desiredSize defaults to minSize: the group is created (or shrunk) at the minimum.
    return pool.model_copy(update={"min_size": smaller, "desired_size": None})


def standby_sizes(
    multi: MultiRegionSettings | None,
    node_pools: dict[str, NodePoolSettings],
    data: DataStoresSettings,
) -> dict[str, Any]:
    """The settings fields a standby changes (``model_copy`` updates); none when active."""
    if multi is None or multi.standby is None:
        return {}
    standby = multi.standby
    cache = data.cache.model_copy(
        update={
            "replicas_per_shard": (
                data.cache.replicas_per_shard
                if standby.cache_replicas_per_shard is None
                else standby.cache_replicas_per_shard
            ),
            "node_type": standby.cache_node_type or data.cache.node_type,
        }
    )
    kafka = data.kafka.model_copy(
        update={
            "broker_instance_type": standby.kafka_broker_instance_type
            or data.kafka.broker_instance_type
        }
    )
    return {
        "node_pools": {name: _pool(p, standby) for name, p in node_pools.items()},
        "data_stores": data.model_copy(update={"cache": cache, "kafka": kafka}),
    }
