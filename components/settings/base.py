"""What every settings area shares: the base model, the error types and the field types
that carry one rule and one message wherever they appear."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

PROJECT = "agent-factory"
ENVIRONMENTS = ("dev", "staging", "prod")

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

_IAM_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_IAM_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
DOMAIN = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,}$")
_WINDOW = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")
_WEEKLY_WINDOW = re.compile(
    r"^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d-"
    r"(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d$"
)
_CHART_VERSION = re.compile(r"^v?\d+\.\d+\.\d+$")


class SettingsError(ValueError):
    """A config value is invalid; the message is one line naming the key."""


class KeyedError(ValueError):
    """Raised from a model validator; ``key`` is relative to the model that raised it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


class SettingsModel(BaseModel):
    """camelCase in YAML, snake_case in Python; unknown keys are errors (typos)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


def is_iam_role(value: str) -> bool:
    """An IAM role name (resolved in the stack's account) or a full role ARN."""
    return bool(_IAM_ROLE_ARN.match(value) or _IAM_ROLE_NAME.match(value))


def _log_retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(f"{value} is not a CloudWatch retention; allowed: {LOG_RETENTION_DAYS}")
    return value


def _window(pattern: re.Pattern[str], example: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"'{value}' is not a UTC window like {example}")
        return value

    return AfterValidator(check)


def _chart(value: str) -> str:
    if not _CHART_VERSION.match(value):
        raise ValueError(f"'{value}' is not a pinned chart version like 4.14.1 (no ranges)")
    return value


LogRetentionDays = Annotated[int, AfterValidator(_log_retention)]
DailyWindow = Annotated[str, _window(_WINDOW, "02:00-03:00")]
WeeklyWindow = Annotated[str, _window(_WEEKLY_WINDOW, "sun:04:00-sun:05:00")]
ChartVersion = Annotated[str, AfterValidator(_chart)]
