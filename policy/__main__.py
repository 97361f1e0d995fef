"""The Agent Factory policy pack. Constructing PolicyPack starts the analyzer server."""

from agentfactory_policies import build_policies
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name="agent-factory",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=build_policies(),
    description="Encryption, Pod Security Standards (restricted), tags, exposure, "
    "production resilience and hygiene for the Agent Factory platform.",
)
