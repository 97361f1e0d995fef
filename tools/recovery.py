"""RTO and RPO of the prod deployment, computed from the stacks' settings and the code.

``python -m tools.recovery`` prints the table docs/multi-region.md carries between its
``recovery`` markers; tests/test_recovery.py checks the doc against this output (so the
doc cannot drift) and every bounded figure against the seed's targets (RTO < 1 h,
RPO < 15 min), so a settings change that breaks them fails the suite.

What comes from the settings and code: the health check's interval and threshold and the
latency records' alias TTL (routing), the RegionUnreachable alert's ``for``, the replica lag
alarm's threshold, S3 Replication Time Control, whether a secondary copies the primary's
backups, and a secondary's standby block (what promotion must scale up). What does not:
the durations of operations below, AWS's typical figures until the DR drill measures them.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from components.multiregion.replication import RTC_MINUTES
from components.multiregion.routing import FAILURE_THRESHOLD, REQUEST_INTERVAL_SECONDS
from components.observability.alerts import region_alerts
from components.observability.observability import rds_alarms
from components.settings import Settings
from tools.stackconfig import stack_settings

SEED_RTO_MINUTES = 60
SEED_RPO_MINUTES = 15

# Operations (minutes), to be replaced by the DR drill's measurements (docs/multi-region.md).
# The on-call engineer confirms the page against the health check and AWS Health.
HUMAN_CONFIRM_MINUTES = 7
# aws rds promote-read-replica until the instance is available.
PROMOTE_MINUTES = 15
# Setting the application's database endpoint and rolling the API.
REPOINT_MINUTES = 5
# EKS managed node groups: EC2 launch, bootstrap, join, pods scheduled.
NODE_SCALE_UP_MINUTES = 10
# Argo CD applies the Application the updated ApplicationSet regenerates (the new minimum
# replicas): a watch event, bounded by its reconciliation interval (3 min by default).
ARGO_SYNC_MINUTES = 3
# A new pod on a new node: image pull, start, readiness.
POD_START_MINUTES = 2
# ElastiCache online scaling: a node type change or replicas added, shard by shard.
CACHE_SCALE_UP_MINUTES = 30
# MSK broker type update: rolling, one broker at a time.
KAFKA_MINUTES_PER_BROKER = 15
# Route 53 alias records answer with the target's TTL; NLB names have 60 s.
ALIAS_TTL_SECONDS = 60
# RDS ships transaction logs to S3 every 5 minutes (the point-in-time granularity) and
# copies them to the backup-replication region within minutes after that.
LOG_SHIP_MINUTES = 5
LOG_COPY_MINUTES = 5

BEGIN, END = "<!-- recovery:begin -->", "<!-- recovery:end -->"
DOC = Path(__file__).resolve().parent.parent / "docs" / "multi-region.md"


@dataclass(frozen=True)
class Figure:
    failure: str
    rto_minutes: float | None  # None: not bounded by this design
    rpo_minutes: float | None
    basis: str
    # The RPO is AWS's committed ceiling (S3 RTC), met at the limit rather than under it.
    rpo_is_ceiling: bool = False


def _minutes(duration: str) -> float:
    """Prometheus ``for`` (``3m``, ``90s``) in minutes."""
    match = re.fullmatch(r"(\d+)([smh])", duration)
    if match is None:
        raise ValueError(f"unsupported duration {duration!r}")
    return int(match[1]) * {"s": 1 / 60, "m": 1, "h": 60}[match[2]]


def detection_minutes() -> float:
    """Route 53 drops a region: failed checks, then resolvers' cached answers expire."""
    return (REQUEST_INTERVAL_SECONDS * FAILURE_THRESHOLD + ALIAS_TTL_SECONDS) / 60


def confirm_minutes() -> float:
    (unreachable,) = [a for a in region_alerts() if a.name == "RegionUnreachable"]
    return _minutes(unreachable.for_) + HUMAN_CONFIRM_MINUTES


def replica_lag_minutes(settings: Settings) -> float:
    (lag,) = [
        a for a in rds_alarms(settings.data_stores.postgres.max_connections) if a.key == "lag"
    ]
    return lag.threshold / 60


def scale_up_minutes(secondary: Settings) -> float:
    """What promotion must grow in a warm standby (in parallel, so the longest counts)."""
    multi = secondary.multi_region
    standby = multi.standby if multi is not None else None
    if standby is None:
        return 0
    steps = []
    nodes = NODE_SCALE_UP_MINUTES if standby.node_pool_min_percent < 100 else 0
    if nodes:
        steps.append(nodes)
    if standby.min_replicas_percent < 100:
        # The services' minimum replicas come back through Argo CD while the node groups'
        # minimum grows (the same `pulumi up`); the pods start once both have happened.
        steps.append(max(ARGO_SYNC_MINUTES, nodes) + POD_START_MINUTES)
    if standby.cache_node_type is not None or standby.cache_replicas_per_shard is not None:
        steps.append(CACHE_SCALE_UP_MINUTES)
    kafka = secondary.data_stores.kafka
    if kafka.enabled and standby.kafka_broker_instance_type is not None:
        brokers = kafka.brokers_per_zone * secondary.network.az_count
        steps.append(KAFKA_MINUTES_PER_BROKER * brokers)
    return max(steps, default=0)


ROOT = Path(__file__).resolve().parent.parent


def failover_rto(secondary: Settings) -> float:
    """Confirm, then promote the replica while the standby scales up, then re-point."""
    return confirm_minutes() + max(PROMOTE_MINUTES, scale_up_minutes(secondary)) + REPOINT_MINUTES


def figures(primary: Settings, secondaries: list[Settings]) -> list[Figure]:
    lag = replica_lag_minutes(primary)
    rows = [
        Figure(
            "one region's ingress or cluster fails (reads, stateless API)",
            detection_minutes(),
            0,
            f"{FAILURE_THRESHOLD} failed checks {REQUEST_INTERVAL_SECONDS} s apart, then the "
            f"{ALIAS_TTL_SECONDS} s TTL; automatic",
        )
    ]
    for secondary in secondaries:
        multi = secondary.multi_region
        mode = "warm standby" if multi is not None and multi.standby else "full size"
        rows.append(
            Figure(
                f"{primary.region} fails, writes move to {secondary.region} ({mode})",
                failover_rto(secondary),
                lag,
                f"confirm {confirm_minutes():g} + max(promote {PROMOTE_MINUTES}, scale-up "
                f"{scale_up_minutes(secondary):g}) + re-point {REPOINT_MINUTES}; RPO: the "
                f"replica lag, alarmed above {lag * 60:g} s",
            )
        )
    copies = [s.region for s in secondaries if s.multi_region and s.multi_region.replicate_backups]
    if copies:
        rows.append(
            Figure(
                f"a bad write, restored to a point in time in {', '.join(copies)}",
                None,
                LOG_SHIP_MINUTES + LOG_COPY_MINUTES,
                f"transaction logs shipped every {LOG_SHIP_MINUTES} min and copied within "
                f"{LOG_COPY_MINUTES}; restore time grows with the database",
            )
        )
    rows += [
        Figure(
            "audit logs and backups (S3)",
            0,
            RTC_MINUTES,
            f"copies already in every secondary; Replication Time Control: {RTC_MINUTES} min "
            "for 99.99 % of objects",
            rpo_is_ceiling=True,
        ),
        Figure("Kafka events in flight", None, None, "not replicated: back when the region is"),
    ]
    return rows


def breaches(rows: list[Figure]) -> list[str]:
    """Bounded figures past the seed's targets (RTO < 1 h, RPO < 15 min)."""
    found = []
    for row in rows:
        if row.rto_minutes is not None and not row.rto_minutes < SEED_RTO_MINUTES:
            found.append(f"{row.failure}: RTO {row.rto_minutes:g} min")
        rpo = row.rpo_minutes
        if rpo is not None and not (
            rpo <= SEED_RPO_MINUTES if row.rpo_is_ceiling else rpo < SEED_RPO_MINUTES
        ):
            found.append(f"{row.failure}: RPO {rpo:g} min")
    return found


def prod_figures(root: Path = ROOT) -> list[Figure]:
    primary = stack_settings(root, "prod")
    multi = primary.multi_region
    stacks = multi.secondary_stacks if multi is not None else []
    return figures(primary, [stack_settings(root, s.rsplit("/", 1)[-1]) for s in stacks])


def _cell(value: float | None) -> str:
    return "not bounded" if value is None else f"{value:g} min"


def markdown(rows: list[Figure]) -> str:
    lines = ["| failure | RTO | RPO | from |", "|---|---|---|---|"]
    lines += [
        f"| {f.failure} | {_cell(f.rto_minutes)} | {_cell(f.rpo_minutes)} | {f.basis} |"
        for f in rows
    ]
    return "\n".join(lines)


def documented(doc: Path = DOC) -> str:
    text = doc.read_text()
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.recovery", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the doc's table differs")
    args = parser.parse_args(argv)
    table = markdown(prod_figures())
    if args.check:
        if documented() != table:
            print(f"{DOC.name}: the recovery table differs; paste python -m tools.recovery")
            return 1
        return 0
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
