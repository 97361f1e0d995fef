"""The Kyverno ClusterPolicies, as pure functions of the registry, the signer and the
namespaces they enforce.

Three policies, all ``Enforce`` with failurePolicy ``Fail`` in the workload namespaces
(``greenlang-*`` and ``tenant-*``; the webhook's namespaceSelector sends Kyverno nothing
else, see :func:`components.addons.kyverno.webhook_selector`):

- ``agent-factory-verify-images``: every image of the project's registry
  (``<account>.dkr.ecr.<region>.amazonaws.com/agent-factory/*``) carries a cosign keyless
  signature from the image workflow of this repository (issuer GitHub Actions' OIDC,
  subject the workflow at refs/heads/main), logged in Rekor; the image is named by digest.
- ``agent-factory-pinned-images``: every container image comes from the project's
  registry and is pinned by digest (``...@sha256:...``). Without the registry rule an
  image from anywhere else would simply not match the signature rule.
- ``agent-factory-pod-security``: the pack's pod-security rules
  (policy/agentfactory_policies/pods.py): Kyverno's ``podSecurity`` subrule at level
  restricted, plus a read-only root filesystem (the pack asks for it; PSS does not).

Kyverno autogenerates the rules for Deployments, StatefulSets, DaemonSets, Jobs and
CronJobs from these Pod rules, so a bad Deployment is rejected when applied (Pulumi sees
the error) instead of its ReplicaSet failing to create pods later (which PSA does).

Field names follow the ``kyverno.io/v1`` ClusterPolicy of Kyverno 1.13+: per-rule
``validate.failureAction`` / ``verifyImages[].failureAction`` and
``webhookConfiguration.{failurePolicy,timeoutSeconds}`` (the spec-level
``validationFailureAction``, ``failurePolicy`` and ``webhookTimeoutSeconds`` are
deprecated since 1.13, kyverno.io/docs policy-settings).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

# Enforce rejects; Audit admits and reports (break-glass only).
FailureAction = Literal["Enforce", "Audit"]

REPOSITORY_PREFIX = "agent-factory"
# The namespaces the policies enforce, as Kyverno wildcards (match.resources.namespaces).
ENFORCED_PATTERNS = ("greenlang-*", "tenant-*")
POD_KINDS = ["Pod"]
# verifyImages calls the registry and Rekor: well under the API server's 30 s ceiling.
WEBHOOK_TIMEOUT_SECONDS = 15
REKOR_URL = "https://rekor.sigstore.dev"
DIGEST_PATTERN = "*@sha256:*"
VERIFY_IMAGES = "agent-factory-verify-images"
PINNED_IMAGES = "agent-factory-pinned-images"
POD_SECURITY = "agent-factory-pod-security"
# In the order cluster_policies returns them.
POLICY_NAMES = (VERIFY_IMAGES, PINNED_IMAGES, POD_SECURITY)


@dataclass(frozen=True)
class Signer:
    """Who must have signed the images: a Fulcio certificate for this OIDC subject from
    this issuer."""

    issuer: str
    subject: str


def image_pattern(registry: str) -> str:
    """Every image of the project's repositories in ``registry``."""
    return f"{registry}/{REPOSITORY_PREFIX}/*"


def _labels() -> dict[str, str]:
    return {
        "app.kubernetes.io/part-of": "agent-factory",
        "app.kubernetes.io/managed-by": "pulumi",
    }


def _policy(name: str, title: str, description: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "kyverno.io/v1",
        "kind": "ClusterPolicy",
        "metadata": {
            "name": name,
            "labels": _labels(),
            "annotations": {
                "policies.kyverno.io/title": title,
                "policies.kyverno.io/description": description,
                "policies.kyverno.io/subject": "Pod",
            },
        },
        "spec": {
            "background": True,
            "webhookConfiguration": {
                "failurePolicy": "Fail",
                "timeoutSeconds": WEBHOOK_TIMEOUT_SECONDS,
            },
            "rules": rules,
        },
    }


def _match() -> dict[str, Any]:
    return {"any": [{"resources": {"kinds": POD_KINDS, "namespaces": list(ENFORCED_PATTERNS)}}]}


def verify_images(registry: str, signer: Signer, action: FailureAction) -> dict[str, Any]:
    policy = _policy(
        VERIFY_IMAGES,
        "Signed project images",
        "Images of the project's registry are signed (cosign keyless) by the image workflow.",
        [
            {
                "name": "signed-by-image-workflow",
                "match": _match(),
                "verifyImages": [
                    {
                        "type": "Cosign",
                        "imageReferences": [image_pattern(registry)],
                        "failureAction": action,
                        "required": True,
                        # The charts pin digests: nothing to mutate, only to check.
                        "mutateDigest": False,
                        "verifyDigest": True,
                        "imageRegistryCredentials": {"providers": ["amazon"]},
                        "attestors": [
                            {
                                "count": 1,
                                "entries": [
                                    {
                                        "keyless": {
                                            "issuer": signer.issuer,
                                            "subject": signer.subject,
                                            "rekor": {"url": REKOR_URL},
                                        }
                                    }
                                ],
                            }
                        ],
                    }
                ],
            }
        ],
    )
    # A signature is checked when a pod is admitted; rescanning running pods against
    # the registry every hour adds load and no protection.
    policy["spec"]["background"] = False
    return policy


def _each_container(field: str, value: str) -> dict[str, Any]:
    """A pattern that holds ``image: value`` for every container, init container and
    ephemeral container (the ``=(...)`` anchors: only where the list exists)."""
    return {
        "spec": {
            "containers": [{field: value}],
            "=(initContainers)": [{field: value}],
            "=(ephemeralContainers)": [{field: value}],
        }
    }


def pinned_images(registry: str, action: FailureAction) -> dict[str, Any]:
    return _policy(
        PINNED_IMAGES,
        "Project images by digest",
        "Containers run images of the project's registry, pinned by digest.",
        [
            {
                "name": "from-project-registry",
                "match": _match(),
                "validate": {
                    "failureAction": action,
                    "message": f"images must come from {image_pattern(registry)}",
                    "pattern": _each_container("image", image_pattern(registry)),
                },
            },
            {
                "name": "pinned-by-digest",
                "match": _match(),
                "validate": {
                    "failureAction": action,
                    "message": "images must be pinned by digest (<image>@sha256:<digest>)",
                    "pattern": _each_container("image", DIGEST_PATTERN),
                },
            },
        ],
    )


def pod_security(action: FailureAction) -> dict[str, Any]:
    return _policy(
        POD_SECURITY,
        "Pod Security Standards restricted",
        "The restricted Pod Security Standard and a read-only root filesystem, as the "
        "CrossGuard pack checks them in the plan.",
        [
            {
                "name": "restricted",
                "match": _match(),
                "validate": {
                    "failureAction": action,
                    "podSecurity": {"level": "restricted", "version": "latest"},
                },
            },
            {
                "name": "read-only-root-filesystem",
                "match": _match(),
                "validate": {
                    "failureAction": action,
                    "message": "containers must set securityContext.readOnlyRootFilesystem: true",
                    # Ephemeral (debug) containers are attached by hand, as in the pack.
                    "pattern": {
                        "spec": {
                            "containers": [{"securityContext": {"readOnlyRootFilesystem": True}}],
                            "=(initContainers)": [
                                {"securityContext": {"readOnlyRootFilesystem": True}}
                            ],
                        }
                    },
                },
            },
        ],
    )


def cluster_policies(
    registry: str, signer: Signer, action: FailureAction = "Enforce"
) -> list[dict[str, Any]]:
    return [
        verify_images(registry, signer, action),
        pinned_images(registry, action),
        pod_security(action),
    ]
