"""PublicZone: the Route 53 hosted zone of the platform's domain, owned by the primary.

A zone that already exists (the domain was registered with Route 53, which creates one) is
looked up by its id instead of created, so the program never runs a second zone whose name
servers nobody delegated to. Secondaries do not build this component: they read the
primary's zone id through a StackReference.

A zone this component creates is signed with DNSSEC and logs every query:

- DNSSEC: a key-signing key backed by an asymmetric KMS key (ECC_NIST_P256, SIGN_VERIFY)
  that only Route 53's DNSSEC service of this account may use, for this zone.
- Query logging: to the CloudWatch log group ``/aws/route53/<domain>``, which Route 53 may
  write to through a CloudWatch Logs resource policy.

Route 53 requires both the DNSSEC key and the query log group in us-east-1, so the zone's
owner must run there. Signing protects nobody until the parent zone publishes a DS
record for the key: after the first ``pulumi up``, add the ``dsRecord`` output at the
registrar (Route 53 Domains: "DNSSEC keys"; elsewhere its DS form). To stop signing, remove
the DS record first and wait out its TTL, or resolvers reject the whole domain.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.context import AccountContext
from components.prerequisites import Prerequisite, prerequisites_output

# Route 53 reads DNSSEC keys and writes query logs only in us-east-1.
ZONE_SERVICES_REGION = "us-east-1"


@dataclass(frozen=True)
class PublicZoneArgs:
    account: AccountContext
    domain: str
    # Look this zone up instead of creating one.
    existing_zone_id: str | None
    protect: bool
    # Encrypts the query log group (a key of the stack's region, which must be us-east-1).
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int


def _matching(domain: str, zone_id: str, zone_name: str) -> str:
    if zone_name.rstrip(".") != domain:
        raise ValueError(
            f"agent-factory:security.hostedZoneId: zone {zone_id} is {zone_name}, not {domain}"
        )
    return zone_id


def dnssec_key_policy(partition: str, account_id: str, zone_id: str) -> str:
    """The account administers the key; Route 53 DNSSEC signs with it for this zone only."""
    service = {"Service": "dnssec-route53.amazonaws.com"}
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministration",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "Route53DnssecSigns",
                    "Effect": "Allow",
                    "Principal": service,
                    "Action": ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account_id},
                        "ArnLike": {
                            "aws:SourceArn": f"arn:{partition}:route53:::hostedzone/{zone_id}"
                        },
                    },
                },
                {
                    "Sid": "Route53DnssecGrants",
                    "Effect": "Allow",
                    "Principal": service,
                    "Action": "kms:CreateGrant",
                    "Resource": "*",
                    "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
                },
            ],
        }
    )


def query_log_policy(partition: str, account_id: str, log_group_arn: str, zone_id: str) -> str:
    """Route 53 may write query logs of this zone, and only into the zone's log group."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Route53QueryLogs",
                    "Effect": "Allow",
                    "Principal": {"Service": "route53.amazonaws.com"},
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": f"{log_group_arn}:*",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account_id},
                        "ArnLike": {
                            "aws:SourceArn": f"arn:{partition}:route53:::hostedzone/{zone_id}"
                        },
                    },
                }
            ],
        }
    )


def key_signing_key_name(domain: str) -> str:
    """Route 53 KSK names take letters, digits and underscores (3-128)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", domain)[:124] + "_ksk"


class PublicZone(pulumi.ComponentResource):
    zone_id: pulumi.Output[str]
    name_servers: pulumi.Output[Sequence[str]]
    # The DS record to publish at the registrar; None for a zone owned outside this stack.
    ds_record: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: PublicZoneArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:PublicZone", name, None, opts)
        self.ds_record = None
        if args.existing_zone_id is not None:
            found = aws.route53.get_zone_output(
                zone_id=args.existing_zone_id,
                private_zone=False,
                opts=pulumi.InvokeOutputOptions(parent=self),
            )
            self.zone_id = pulumi.Output.all(found.zone_id, found.name).apply(
                lambda v: _matching(args.domain, v[0], v[1])
            )
            self.name_servers = found.name_servers
            prerequisites = [
                Prerequisite(
                    what=(
                        f"hosted zone {args.existing_zone_id} ({args.domain}) is signed with "
                        "DNSSEC and logs its queries"
                    ),
                    how="its owner enables both; this stack only adds records to the zone",
                )
            ]
        else:
            if args.account.region != ZONE_SERVICES_REGION:
                raise ValueError(
                    f"aws:region: the public zone's DNSSEC key and query logs must be in "
                    f"{ZONE_SERVICES_REGION}; its owner (multiRegion.role primary) runs in "
                    f"{args.account.region}"
                )
            zone = aws.route53.Zone(
                name,
                name=args.domain,
                comment=f"{args.domain}: public zone of the Agent Factory platform",
                # Records owned by other stacks (regions, cert-manager) must block deletion.
                force_destroy=False,
                opts=pulumi.ResourceOptions(
                    parent=self, protect=args.protect, retain_on_delete=args.protect
                ),
            )
            self.zone_id = zone.zone_id
            self.name_servers = zone.name_servers
            self.ds_record = self._dnssec(name, zone, args)
            self._query_logging(name, zone, args)
            prerequisites = [
                Prerequisite(
                    what=(
                        f"after the first pulumi up: the parent of {args.domain} publishes "
                        "the zone's DS record (until then resolvers ignore the signatures)"
                    ),
                    how=(
                        "add the dsRecord output of this stack at the registrar; remove it "
                        "before signing is ever turned off"
                    ),
                )
            ]
        self.register_outputs(
            {
                "zoneId": self.zone_id,
                "nameServers": self.name_servers,
                "dsRecord": self.ds_record,
                **prerequisites_output(prerequisites),
            }
        )

    def _dnssec(
        self, name: str, zone: aws.route53.Zone, args: PublicZoneArgs
    ) -> pulumi.Output[str]:
        account = args.account
        # Losing the key (or its policy) takes the whole signed domain off the internet.
        kept = pulumi.ResourceOptions(
            parent=self, protect=args.protect, retain_on_delete=args.protect
        )
        key = aws.kms.Key(
            f"{name}-dnssec",
            description=f"{args.domain}: Route 53 DNSSEC key-signing key",
            customer_master_key_spec="ECC_NIST_P256",
            key_usage="SIGN_VERIFY",
            # Asymmetric keys cannot rotate; a KSK rollover is a new key and a new DS record.
            enable_key_rotation=False,
            deletion_window_in_days=30,
            policy=pulumi.Output.all(account.partition, account.account_id, zone.zone_id).apply(
                lambda v: dnssec_key_policy(v[0], v[1], v[2])
            ),
            opts=kept,
        )
        ksk = aws.route53.KeySigningKey(
            f"{name}-ksk",
            hosted_zone_id=zone.zone_id,
            key_management_service_arn=key.arn,
            name=key_signing_key_name(args.domain),
            status="ACTIVE",
            opts=kept,
        )
        aws.route53.HostedZoneDnsSec(
            f"{name}-dnssec-signing",
            hosted_zone_id=ksk.hosted_zone_id,
            signing_status="SIGNING",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[ksk], protect=args.protect),
        )
        return ksk.ds_record

    def _query_logging(self, name: str, zone: aws.route53.Zone, args: PublicZoneArgs) -> None:
        account = args.account
        child = pulumi.ResourceOptions(parent=self)
        group = aws.cloudwatch.LogGroup(
            f"{name}-query-logs",
            name=f"/aws/route53/{args.domain}",
            kms_key_id=args.logs_key_arn,
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        policy = aws.cloudwatch.LogResourcePolicy(
            f"{name}-query-logs-policy",
            policy_name=f"route53-query-logs-{args.domain}",
            policy_document=pulumi.Output.all(
                account.partition, account.account_id, group.arn, zone.zone_id
            ).apply(lambda v: query_log_policy(v[0], v[1], v[2], v[3])),
            opts=child,
        )
        aws.route53.QueryLog(
            f"{name}-query-log",
            zone_id=zone.zone_id,
            cloudwatch_log_group_arn=group.arn,
            # Route 53 checks on create that it may write to the group.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
