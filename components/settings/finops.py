"""``agent-factory:finops``: what the stack may spend and what watches it.

A monthly AWS Budget per stack (filtered by the stack's ``Stack`` tag), Cost Anomaly
Detection and cost-allocation tags (account-global: one stack per account owns them), and
the off-hours scale-down of node pools (dev only).
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Annotated

from pydantic import EmailStr, Field, field_validator, model_validator

from components.settings.base import KeyedError, SettingsModel

_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
# Unix cron day-of-week field as Auto Scaling takes it: a day, a range or a list.
_DAYS = re.compile(
    r"^(\*|(MON|TUE|WED|THU|FRI|SAT|SUN)(-(MON|TUE|WED|THU|FRI|SAT|SUN))?"
    r"(,(MON|TUE|WED|THU|FRI|SAT|SUN)(-(MON|TUE|WED|THU|FRI|SAT|SUN))?)*)$"
)


def _clock(value: str) -> str:
    if not _CLOCK.match(value):
        raise ValueError(f"'{value}' is not a time of day like 20:00")
    return value


def cron(clock: str, days: str) -> str:
    """The Auto Scaling recurrence (Unix cron, minute hour dom month dow) for ``clock``."""
    hour, minute = _CLOCK.match(clock).groups()  # type: ignore[union-attr]
    return f"{int(minute)} {int(hour)} * * {days}"


class BudgetSettings(SettingsModel):
    """A monthly cost budget over the resources tagged with this stack's name."""

    monthly_usd: Annotated[float, Field(gt=0)] = Field(
        # The seed's monthly AWS estimate for production (Appendix: $23,375 before
        # optimisation, less $5,500 of LLM API spend that AWS does not bill).
        17875.0,
        description="Monthly amount in USD; alerts at 80 % and 100 % of it (actual spend).",
    )
    thresholds_percent: list[Annotated[float, Field(gt=0, le=1000)]] = Field(
        default_factory=lambda: [80.0, 100.0],
        description="Percentages of monthlyUsd at which actual spend notifies.",
    )
    emails: list[EmailStr] = Field(
        default_factory=list,
        description="Addresses notified besides the alarm SNS topic (at most 10 per "
        "notification with the topic, an AWS Budgets limit).",
    )

    @field_validator("thresholds_percent")
    @classmethod
    def _check_thresholds(cls, value: list[float]) -> list[float]:
        if not value or len(set(value)) != len(value):
            raise ValueError(f"{value}: list one or more distinct percentages")
        return sorted(value)

    @field_validator("emails")
    @classmethod
    def _check_emails(cls, value: list[str]) -> list[str]:
        # AWS Budgets: up to 10 email and 1 SNS subscriber per notification.
        if len(value) > 10:
            raise ValueError(f"{len(value)} addresses; AWS Budgets allows 10 per notification")
        return value


class AnomalySettings(SettingsModel):
    """Cost Anomaly Detection over the project's tagged resources in the account."""

    impact_usd: Annotated[float, Field(gt=0)] = Field(
        100.0,
        description="Notify on an anomaly whose total impact reaches this many USD.",
    )


class ScaleDownSettings(SettingsModel):
    """Node pools at zero outside working hours (Auto Scaling scheduled actions)."""

    enabled: bool | None = Field(
        None, description="Scale pools to zero at night; default on in dev, refused in prod."
    )
    timezone: str = Field(
        "America/New_York", description="IANA time zone of the hours below (e.g. Europe/Berlin)."
    )
    down_at: str = Field(
        "20:00", description="Time of day the pools go to zero (HH:MM, in timezone)."
    )
    up_at: str = Field(
        "07:00", description="Time of day the pools get their sizes back (HH:MM, in timezone)."
    )
    days: str = Field(
        "MON-FRI",
        description="Cron days the pools go down in the evening and come back in the "
        "morning (MON-FRI: down Friday evening, back Monday morning).",
    )
    pools: list[str] | None = Field(
        None,
        description="Pools scaled down; default every pool but system (it runs the "
        "autoscaler, CoreDNS, the webhooks and monitoring).",
    )

    @field_validator("down_at", "up_at")
    @classmethod
    def _check_clock(cls, value: str) -> str:
        return _clock(value)

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        if value not in zoneinfo.available_timezones():
            raise ValueError(f"'{value}' is not an IANA time zone (e.g. Europe/Berlin)")
        return value

    @field_validator("days")
    @classmethod
    def _check_days(cls, value: str) -> str:
        if not _DAYS.match(value):
            raise ValueError(f"'{value}' is not a cron day-of-week like MON-FRI")
        return value

    @model_validator(mode="after")
    def _check_order(self) -> ScaleDownSettings:
        if self.down_at == self.up_at:
            raise KeyedError("upAt", f"{self.up_at} equals downAt; the pools would never run")
        return self

    @property
    def down_recurrence(self) -> str:
        return cron(self.down_at, self.days)

    @property
    def up_recurrence(self) -> str:
        return cron(self.up_at, self.days)


class FinOpsSettings(SettingsModel):
    """Budgets, anomaly detection, cost-allocation tags and off-hours scale-down."""

    budget: BudgetSettings = Field(
        BudgetSettings(), description="The stack's monthly budget over its Stack tag."
    )
    owns_account_resources: bool | None = Field(
        None,
        description="This stack owns the account-global cost resources (anomaly monitor "
        "and subscription, cost-allocation tags); default: every stack but a secondary "
        "region. One stack per account.",
    )
    anomaly: AnomalySettings = Field(
        AnomalySettings(), description="Cost Anomaly Detection (owning stack only)."
    )
    scale_down: ScaleDownSettings = Field(
        ScaleDownSettings(), description="Off-hours scale-down of node pools."
    )
