"""Agent Factory CrossGuard rules: pure functions grouped by area, wrapped as Pulumi policies."""

from .catalog import ALL_RULES, build_policies

__all__ = ["ALL_RULES", "build_policies"]
