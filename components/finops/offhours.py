"""OffHours: node pools at zero outside working hours (dev by default; refused in prod).

EKS managed node groups are backed by Auto Scaling groups; EKS's own documentation for
scheduled scaling of managed node groups uses the ASG's scheduled actions, so each node
group's ASG (``resources[0].autoscalingGroups[0].name`` of the ``aws.eks.NodeGroup``)
gets two ``aws.autoscaling.Schedule`` actions:

- evening (``downAt``): min 0, **max 0**, desired 0. A max of 0, not only a min: the
  cluster autoscaler would otherwise see the drained pods Pending and scale the group
  straight back up. EKS's termination lifecycle hook drains each node, honouring
  PodDisruptionBudgets for up to 15 minutes before it terminates the node anyway.
- morning (``upAt``): the group's own min, max and desired size from the settings; the
  autoscaler takes over from there.

The system pool stays up by default: it runs the cluster autoscaler, CoreDNS, the
admission webhooks (a webhook with no endpoint blocks API writes) and monitoring.
Recurrences are Unix cron in ``timezone`` (Auto Scaling evaluates them with DST).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.cluster.nodepools import PoolGroup
from components.settings.finops import ScaleDownSettings


@dataclass(frozen=True)
class OffHoursArgs:
    groups: Sequence[PoolGroup]
    pools: Sequence[str]
    schedule: ScaleDownSettings


class OffHours(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: OffHoursArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:OffHours", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        schedule = args.schedule
        scheduled: list[str] = []
        for entry in args.groups:
            if entry.pool not in args.pools:
                continue
            group = entry.group
            key = f"{entry.pool}-{group.suffix}"
            scheduled.append(key)
            aws.autoscaling.Schedule(
                f"{name}-{key}-down",
                autoscaling_group_name=entry.asg_name,
                scheduled_action_name=f"offhours-{key}-down",
                min_size=0,
                max_size=0,
                desired_capacity=0,
                recurrence=schedule.down_recurrence,
                time_zone=schedule.timezone,
                opts=child,
            )
            aws.autoscaling.Schedule(
                f"{name}-{key}-up",
                autoscaling_group_name=entry.asg_name,
                scheduled_action_name=f"offhours-{key}-up",
                min_size=group.min_size,
                max_size=group.max_size,
                desired_capacity=group.desired_size,
                recurrence=schedule.up_recurrence,
                time_zone=schedule.timezone,
                opts=child,
            )
        self.register_outputs({"scheduledGroups": scheduled})
