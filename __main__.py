"""Agent Factory platform: settings -> AWS provider -> Region -> stack outputs."""

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.region import CONTRACT, Region, RegionArgs
from components.settings import SettingsError, settings_from_pulumi

try:
    settings = settings_from_pulumi()
except SettingsError as error:
    # RunError ends the program with this one line instead of a traceback.
    raise pulumi.RunError(str(error)) from None

provider = aws.Provider(
    f"aws-{settings.region}",
    region=settings.region,
    default_tags=aws.ProviderDefaultTagsArgs(tags=settings.tags),
)
# Explicit even though it has no settings: every resource names its provider.
random_provider = random.Provider("random")
region = Region(
    settings.stack,
    RegionArgs(settings=settings),
    opts=pulumi.ResourceOptions(providers=[provider, random_provider]),
)

pulumi.export(CONTRACT.REGION, settings.region)
pulumi.export("environment", settings.environment)
pulumi.export("vpcId", region.vpc_id)
pulumi.export(CONTRACT.VPC_CIDR, str(settings.network.vpc_network))
pulumi.export("privateSubnetIds", region.private_subnet_ids)
pulumi.export("dataSubnetIds", region.data_subnet_ids)
pulumi.export(CONTRACT.DATA_SUBNET_CIDRS, [str(c) for c in settings.network.subnets.data])
pulumi.export("clusterName", region.cluster_name)
pulumi.export("clusterEndpoint", region.cluster_endpoint)
pulumi.export("kubeconfig", region.kubeconfig)
pulumi.export("oidcProviderArn", region.oidc_provider_arn)
pulumi.export("clusterSecurityGroupId", region.cluster_security_group_id)
pulumi.export("nodeRoleArn", region.node_role_arn)

data = region.data_stores
pulumi.export(CONTRACT.POSTGRES_ENDPOINT, data.postgres_endpoint)
pulumi.export(CONTRACT.POSTGRES_PORT, data.postgres_port)
pulumi.export(CONTRACT.POSTGRES_RESOURCE_ID, data.postgres_resource_id)
pulumi.export("postgresReaderEndpoints", data.postgres_reader_endpoints)
pulumi.export(CONTRACT.POSTGRES_ARN, data.postgres_instance_arn)
if data.postgres_master_secret_arn is not None:  # a replica's secret lives with the primary
    pulumi.export("postgresMasterSecretArn", data.postgres_master_secret_arn)
pulumi.export("cacheEndpoint", data.cache_endpoint)
pulumi.export("cacheAuthSecretArn", data.cache_auth_secret_arn)
pulumi.export("bucketNames", data.bucket_names)
pulumi.export("bucketArns", data.bucket_arns)
pulumi.export("kafkaBootstrapBrokers", data.kafka_bootstrap_brokers)
pulumi.export("applicationSecretArns", data.application_secret_arns)
pulumi.export("keyArns", region.keys.arns)

# Supply chain (docs/supply-chain.md): the GitHub environment variables take these ARNs.
pulumi.export("imageRegistry", region.image_registry.url)
pulumi.export("ciDeployRoleArn", region.ci_identity.deploy_role_arn)
pulumi.export("ciPreviewRoleArn", region.ci_identity.preview_role_arn)
if region.ci_identity.image_push_role_arn is not None:
    pulumi.export("imagePushRoleArn", region.ci_identity.image_push_role_arn)

# Multi-region contract (components/CONTRACT.py): what the other regions' stacks read.
if settings.role == "primary":
    pulumi.export(CONTRACT.HOSTED_ZONE_ID, region.hosted_zone_id)
    # Delegate the domain to these at the registrar when the zone was created here.
    pulumi.export("hostedZoneNameServers", region.hosted_zone_name_servers)
if region.routing is not None:
    pulumi.export("apiHostname", settings.api_hostname)
    pulumi.export("regionalApiHostname", region.routing.regional_hostname)
    pulumi.export("healthCheckId", region.routing.health_check_id)
if region.transit_gateway_id is not None and region.transit_route_table_id is not None:
    pulumi.export(CONTRACT.TRANSIT_GATEWAY_ID, region.transit_gateway_id)
    pulumi.export(CONTRACT.TRANSIT_ROUTE_TABLE_ID, region.transit_route_table_id)
if region.region_link is not None:
    pulumi.export(CONTRACT.REGION_LINK, region.region_link)
if region.replication_target is not None:
    pulumi.export(CONTRACT.REPLICATION_TARGET, region.replication_target)
if data.cache_global_group_id is not None:
    pulumi.export(CONTRACT.CACHE_GLOBAL_GROUP, data.cache_global_group_id)
    pulumi.export(CONTRACT.CACHE_AUTH_TOKEN, pulumi.Output.secret(data.cache_auth_token))
