"""``agent-factory:observability``: metrics, logs, traces, SLOs and who gets paged."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from components.settings.base import SettingsModel

# The latency SLI counts requests in the ingress-nginx histogram bucket le="<latency>".
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class SloSettings(SettingsModel):
    """Targets in percent; the seed raises availability by phase (99.9 -> 99.95 -> 99.99)."""

    availability: Annotated[float, Field(gt=90, lt=100)] = Field(
        99.9, description="Percent of requests answered without a 5xx."
    )
    latency_seconds: Annotated[float, Field(gt=0)] = Field(
        0.5,
        description="Latency threshold in seconds, a bucket of the ingress-nginx histogram "
        f"({', '.join(f'{b:g}' for b in _LATENCY_BUCKETS)}).",
    )
    latency_objective: Annotated[float, Field(gt=50, lt=100)] = Field(
        95.0, description="Percent of requests faster than latencySeconds."
    )
    error_rate: Annotated[float, Field(gt=0, lt=10)] = Field(
        0.5, description="Percent of 5xx responses that pages."
    )

    @field_validator("latency_seconds")
    @classmethod
    def _check_bucket(cls, value: float) -> float:
        # A value between buckets matches no series and the alerts fire forever.
        if value not in _LATENCY_BUCKETS:
            raise ValueError(
                f"{value:g} is not a bucket of the ingress-nginx latency histogram; "
                f"allowed: {', '.join(f'{b:g}' for b in _LATENCY_BUCKETS)}"
            )
        return value


class OpenSearchSettings(SettingsModel):
    """The OpenSearch domain that keeps the cluster's logs."""

    engine_version: str = Field("OpenSearch_2.19", description="OpenSearch engine version.")
    instance_type: str = Field("r7g.large.search", description="Data node instance type.")
    instance_count: Annotated[int, Field(ge=1, le=80)] = Field(3, description="Data nodes.")
    volume_gib: Annotated[int, Field(ge=10, le=16384)] = Field(
        500, description="EBS storage of each data node in GiB."
    )
    # Hot all along: no UltraWarm.
    retention_days: Annotated[int, Field(ge=1, le=3650)] = Field(
        30, description="Days a log index lives before ISM deletes it."
    )


class ObservabilitySettings(SettingsModel):
    """Prometheus, Grafana, Fluent Bit, OpenTelemetry and Tempo, SLOs and alarms."""

    prometheus_retention_days: Annotated[int, Field(ge=1, le=365)] = Field(
        30, description="Days Prometheus keeps metrics."
    )
    prometheus_storage_gib: Annotated[int, Field(ge=10)] = Field(
        100, description="Prometheus volume in GiB."
    )
    grafana_oidc_issuer: str = Field(
        "https://greenlang.okta.com", description="https URL of Grafana's OIDC issuer."
    )
    grafana_oidc_client_id: str = Field(
        "agent-factory-grafana", description="Grafana's OIDC client id."
    )
    trace_sampling_percent: Annotated[float, Field(gt=0, le=100)] = Field(
        1.0, description="Percent of traces kept (seed: 1 in prod, more elsewhere)."
    )
    slo: SloSettings = Field(SloSettings(), description="Service level objectives in percent.")
    opensearch: OpenSearchSettings = Field(
        OpenSearchSettings(), description="The OpenSearch domain for logs."
    )
    alarm_endpoint: str | None = Field(
        None,
        description="Secret: https URL of the PagerDuty CloudWatch integration the data-store "
        "alarm topic notifies; set with pulumi config set --secret --path "
        "observability.alarmEndpoint <url>. Absent, the topic has no subscriber and the "
        "preview lists that as a prerequisite.",
    )

    @field_validator("grafana_oidc_issuer")
    @classmethod
    def _check_issuer(cls, value: str) -> str:
        url = urlsplit(value)
        if url.scheme != "https" or not url.hostname:
            raise ValueError(f"'{value}' must be an https issuer URL with a host")
        return value.rstrip("/")

    @field_validator("alarm_endpoint")
    @classmethod
    def _check_alarm_endpoint(cls, value: str | None) -> str | None:
        # "[secret]": the offline preview's stand-in for a value it cannot decrypt.
        if value is not None and value != "[secret]" and not value.startswith("https://"):
            raise ValueError("must be the https:// URL of the PagerDuty CloudWatch integration")
        return value
