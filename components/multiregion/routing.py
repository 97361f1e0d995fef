"""GlobalRouting: this region's share of the API's global DNS name.

Each region's stack owns three things and nothing of any other region:

- ``api-<region>.<domain>``: an alias to this region's ingress load balancer, so operators
  and the health check can reach one region on purpose;
- a Route 53 health check of that name over HTTPS;
- the latency record of the API name (``api.<domain>``) with the region as set identifier,
  tied to the health check. Route 53 answers with the nearest healthy region and drops a
  failing one, which is the failover: no record changes during an outage.

Regions come and go by deploying or destroying their own stack; the zone stays with the
primary.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

HTTPS = 443
# Route 53 needs at least three checker regions; these spread over three continents.
CHECKER_REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-southeast-1")
# 10 s interval x 3 failures: a dead region leaves the answer set in about 30-40 s.
REQUEST_INTERVAL_SECONDS = 10
FAILURE_THRESHOLD = 3


@dataclass(frozen=True)
class GlobalRoutingArgs:
    zone_id: pulumi.Input[str]
    region: str
    api_hostname: str
    health_check_path: str
    # This region's ingress load balancer (DNS name and its canonical hosted zone).
    ingress_hostname: pulumi.Input[str]
    ingress_zone_id: pulumi.Input[str]


def regional_hostname(api_hostname: str, region: str) -> str:
    """api.greenlang.ai -> api-us-east-1.greenlang.ai: one label, so *.greenlang.ai covers it."""
    label, domain = api_hostname.split(".", 1)
    return f"{label}-{region}.{domain}"


def health_url(api_hostname: str, region: str, path: str) -> str:
    """What the health check (and the other regions' probes) request of one region."""
    return f"https://{regional_hostname(api_hostname, region)}{path}"


class GlobalRouting(pulumi.ComponentResource):
    regional_hostname: str
    health_check_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: GlobalRoutingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:GlobalRouting", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        regional = regional_hostname(args.api_hostname, args.region)

        def alias() -> aws.route53.RecordAliasArgs:
            return aws.route53.RecordAliasArgs(
                name=args.ingress_hostname,
                zone_id=args.ingress_zone_id,
                evaluate_target_health=True,
            )

        regional_record = aws.route53.Record(
            f"{name}-regional",
            zone_id=args.zone_id,
            name=regional,
            type="A",
            aliases=[alias()],
            opts=child,
        )
        health_check = aws.route53.HealthCheck(
            f"{name}-health",
            fqdn=regional,
            port=HTTPS,
            type="HTTPS",
            resource_path=args.health_check_path,
            enable_sni=True,
            request_interval=REQUEST_INTERVAL_SECONDS,
            failure_threshold=FAILURE_THRESHOLD,
            measure_latency=True,
            regions=list(CHECKER_REGIONS),
            tags={"Name": f"{regional}{args.health_check_path}"},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[regional_record]),
        )
        aws.route53.Record(
            f"{name}-latency",
            zone_id=args.zone_id,
            name=args.api_hostname,
            type="A",
            set_identifier=args.region,
            latency_routing_policies=[
                aws.route53.RecordLatencyRoutingPolicyArgs(region=args.region)
            ],
            health_check_id=health_check.id,
            aliases=[alias()],
            opts=child,
        )
        self.regional_hostname = regional
        self.health_check_id = health_check.id
        self.register_outputs({"regionalHostname": regional, "healthCheckId": self.health_check_id})
