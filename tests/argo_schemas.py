"""The envelope of the Argo Rollouts objects the services' chart renders, as JSON Schema.

kubernetes-validate knows only built-in kinds. A Rollout's pod template is a core/v1
PodTemplateSpec and is validated as one (wrapped in a PodTemplate) by the chart tests; what
is left is checked here: the fields of ``rollouts.argoproj.io`` and
``analysistemplates.argoproj.io`` (v1alpha1) the chart uses, with their types. The
AnalysisTemplate's were read in the CRD's openAPIV3Schema (argo-helm
charts/argo-rollouts/templates/crds/analysis-template-crd.yaml: metrics[].initialDelay,
interval, count, failureLimit, successCondition, failureCondition, provider.prometheus);
the Rollout's follow the Argo Rollouts spec (activeService, previewService,
pre/postPromotionAnalysis, canary steps, progressDeadlineAbort), not yet diffed against
rollout-crd.yaml. Closed (``additionalProperties: false``) on purpose: the API server
prunes an unknown field of a structural CRD without a word, so a misspelt
``postPromotionAnalysys`` would deploy a blue-green with no analysis at all. A field the
chart starts to use must be added here, from the CRD, before it renders.
"""

from __future__ import annotations

from typing import Any

_STRING = {"type": "string"}
_INT = {"type": "integer"}
_INT_OR_STRING = {"type": ["integer", "string"]}
# Go duration strings as Argo Rollouts parses them (interval, initialDelay, pause).
_DURATION = {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"}


def _closed(required: list[str], **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "required": required,
    }


_METADATA = {
    "type": "object",
    "required": ["name", "namespace", "labels"],
    "properties": {"name": _STRING, "namespace": _STRING, "labels": {"type": "object"}},
}
# RolloutAnalysis: templates by name, and arguments by value or from the pod template hash.
_ANALYSIS = _closed(
    ["templates"],
    templates={
        "type": "array",
        "minItems": 1,
        "items": _closed(["templateName"], templateName=_STRING, clusterScope={"type": "boolean"}),
    },
    args={
        "type": "array",
        "items": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name"],
            "properties": {
                "name": _STRING,
                "value": _STRING,
                "valueFrom": _closed(
                    ["podTemplateHashValue"],
                    podTemplateHashValue={"type": "string", "enum": ["Stable", "Latest"]},
                ),
            },
            "oneOf": [{"required": ["value"]}, {"required": ["valueFrom"]}],
        },
    },
)
_BLUE_GREEN = _closed(
    ["activeService"],
    activeService=_STRING,
    previewService=_STRING,
    autoPromotionEnabled={"type": "boolean"},
    scaleDownDelaySeconds=_INT,
    previewReplicaCount=_INT,
    prePromotionAnalysis=_ANALYSIS,
    postPromotionAnalysis=_ANALYSIS,
)
_CANARY_STEP = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "maxProperties": 1,
    "properties": {
        "setWeight": {"type": "integer", "minimum": 0, "maximum": 100},
        "pause": _closed([], duration=_DURATION),
        "analysis": _ANALYSIS,
    },
}
_CANARY = _closed(
    ["steps"],
    maxSurge=_INT_OR_STRING,
    maxUnavailable=_INT_OR_STRING,
    steps={"type": "array", "minItems": 1, "items": _CANARY_STEP},
    analysis=_ANALYSIS,
)
ROLLOUT = _closed(
    ["apiVersion", "kind", "metadata", "spec"],
    apiVersion={"const": "argoproj.io/v1alpha1"},
    kind={"const": "Rollout"},
    metadata=_METADATA,
    spec=_closed(
        ["selector", "template", "strategy"],
        replicas=_INT,
        revisionHistoryLimit=_INT,
        progressDeadlineSeconds=_INT,
        progressDeadlineAbort={"type": "boolean"},
        selector=_closed(["matchLabels"], matchLabels={"type": "object"}),
        # A core/v1 PodTemplateSpec: validated by kubernetes-validate instead.
        template={"type": "object", "required": ["metadata", "spec"]},
        strategy={
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "maxProperties": 1,
            "properties": {"blueGreen": _BLUE_GREEN, "canary": _CANARY},
        },
    ),
)
_PROMETHEUS = _closed(["address", "query"], address=_STRING, query=_STRING, timeout=_INT)
_METRIC = _closed(
    ["name", "provider"],
    name=_STRING,
    initialDelay=_DURATION,
    interval=_DURATION,
    count=_INT_OR_STRING,
    failureLimit=_INT_OR_STRING,
    inconclusiveLimit=_INT_OR_STRING,
    consecutiveErrorLimit=_INT_OR_STRING,
    successCondition=_STRING,
    failureCondition=_STRING,
    provider=_closed(["prometheus"], prometheus=_PROMETHEUS),
)
ANALYSIS_TEMPLATE = _closed(
    ["apiVersion", "kind", "metadata", "spec"],
    apiVersion={"const": "argoproj.io/v1alpha1"},
    kind={"const": "AnalysisTemplate"},
    metadata=_METADATA,
    spec=_closed(
        ["metrics"],
        args={"type": "array", "items": _closed(["name"], name=_STRING, value=_STRING)},
        metrics={"type": "array", "minItems": 1, "items": _METRIC},
    ),
)
SCHEMAS = {"Rollout": ROLLOUT, "AnalysisTemplate": ANALYSIS_TEMPLATE}
