"""Per-node agents (DaemonSets): their per-pod resources and what that does to quotas.

A DaemonSet runs one pod on every node, so the quota of the namespace it lives in must
admit it at the stack's **maximum** node count, not at today's. The charts' values and
the namespaces' quotas both read these numbers, so they cannot drift apart.
"""

from __future__ import annotations

from components.footprint import Resources

NODE_EXPORTER = Resources("50m", "64Mi", "250m", "128Mi")
FLUENT_BIT = Resources("100m", "128Mi", "500m", "512Mi")


def _millicores(quantity: str) -> int:
    return int(quantity[:-1]) if quantity.endswith("m") else int(float(quantity) * 1000)


def _mebibytes(quantity: str) -> int:
    if quantity.endswith("Gi"):
        return int(float(quantity[:-2]) * 1024)
    if quantity.endswith("Mi"):
        return int(quantity[:-2])
    raise ValueError(f"memory quantity {quantity!r}: use Mi or Gi")


def per_node_cores(agent: Resources, nodes: int) -> tuple[float, float]:
    """(requests, limits) in cores for ``nodes`` copies of one agent pod."""
    return (
        _millicores(agent.cpu_request) * nodes / 1000,
        _millicores(agent.cpu_limit) * nodes / 1000,
    )


def per_node_gib(agent: Resources, nodes: int) -> tuple[float, float]:
    """(requests, limits) in GiB for ``nodes`` copies of one agent pod."""
    return (
        _mebibytes(agent.memory_request) * nodes / 1024,
        _mebibytes(agent.memory_limit) * nodes / 1024,
    )
