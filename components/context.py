"""Where a component runs, passed as one value instead of five loose fields.

``AccountContext`` is resolved once by Region (account, partition, DNS suffix, region);
``ClusterContext`` once the cluster exists (its name, endpoint, OIDC provider for IRSA and
the Kubernetes provider every in-cluster object is created with).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.iam import OidcProvider


@dataclass(frozen=True)
class AccountContext:
    """Where the stack deploys: resolved once by Region, handed to every component."""

    account_id: pulumi.Input[str]
    partition: pulumi.Input[str]
    region: str
    # amazonaws.com, or amazonaws.com.cn in the China partition: service endpoints.
    dns_suffix: pulumi.Input[str] = "amazonaws.com"


@dataclass(frozen=True)
class ClusterContext:
    """The cluster as the components that put things into it need it."""

    account: AccountContext
    name: pulumi.Input[str]
    arn: pulumi.Input[str]
    endpoint: pulumi.Input[str]
    oidc_provider_arn: pulumi.Input[str]
    oidc_provider_url: pulumi.Input[str]
    k8s_provider: k8s.Provider

    @property
    def oidc(self) -> OidcProvider:
        return OidcProvider(self.oidc_provider_arn, self.oidc_provider_url)
