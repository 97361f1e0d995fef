"""Delivery: what Argo CD may apply, judged from the Applications, ApplicationSets and
AppProjects of the plan.

An Application (or each Application an ApplicationSet's list generator makes, filled in
as Argo CD fills its default ``{{key}}`` template) may only take its sources from the
allowed repositories and from its project's ``sourceRepos``, and deliver only into a
namespace its project lists; its project must be in the plan. A project may list only
allowed repositories and no cluster-scoped kinds beyond those allowed. Applications of
the projects named in ``noAutoPruneProjects`` (prod) may not prune automatically: a
manifest deleted in git waits for a person there.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .core import Finding, Resource, Rule, Undecided, UnknownRead, as_list, as_mapping, get

AREA = "delivery"
APPLICATION = "kubernetes:argoproj.io/v1alpha1:Application"
APPLICATION_SET = "kubernetes:argoproj.io/v1alpha1:ApplicationSet"
APP_PROJECT = "kubernetes:argoproj.io/v1alpha1:AppProject"
DEFAULT_REPOSITORIES = ["https://github.com/agent-factory/platform.git"]
_PLACEHOLDER = re.compile(r"\{\{([^{}]*)\}\}")


def _fill(template: Any, element: Mapping[str, Any]) -> Any:
    """Argo CD's default template syntax: ``{{key}}`` replaced, JSON-escaped, by the
    element's value; unknown keys stay."""
    params = {str(k): str(v) for k, v in element.items()}

    def substitute(match: re.Match[str]) -> str:
        key = match.group(1).strip()
        return json.dumps(params[key])[1:-1] if key in params else match.group(0)

    return json.loads(_PLACEHOLDER.sub(substitute, json.dumps(template)))


def _plain(value: Any) -> Any:
    """Proxies of the policy SDK as plain JSON values (for templating)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _applications(r: Resource) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(what, spec) of an Application, or of each Application an ApplicationSet makes."""
    name = get(r.props, "metadata.name", r.name)
    if r.type == APPLICATION:
        yield f"Application {name}", as_mapping(get(r.props, "spec"))
        return
    template = _plain(as_mapping(get(r.props, "spec.template")))
    generators = as_list(get(r.props, "spec.generators"))
    elements = [
        element for generator in generators for element in as_list(get(generator, "list.elements"))
    ]
    if not elements or get(r.props, "spec.goTemplate"):
        # Without a list generator (or with Go templates) only the template's literal
        # fields can be judged; placeholders in them stay unjudged.
        yield f"ApplicationSet {name} template", as_mapping(template.get("spec"))
        return
    for element in elements:
        filled = _fill(template, _plain(as_mapping(element)))
        app = get(filled, "metadata.name", "?")
        yield f"ApplicationSet {name} -> Application {app}", as_mapping(filled.get("spec"))


def _sources(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    sources = [as_mapping(s) for s in as_list(spec.get("sources"))]
    if spec.get("source") is not None:
        sources.append(as_mapping(spec.get("source")))
    return sources


def _project_findings(
    project: Resource, allowed: Sequence[str], cluster_kinds: Sequence[str]
) -> Iterator[str]:
    name = get(project.props, "metadata.name", project.name)
    for repo in as_list(get(project.props, "spec.sourceRepos")):
        if str(repo) not in allowed:
            yield f"AppProject {name}: sourceRepos {repo} is not in allowedRepositories {allowed}"
    for entry in as_list(get(project.props, "spec.clusterResourceWhitelist")):
        kind = f"{get(entry, 'group', '')}/{get(entry, 'kind', '')}"
        if kind not in cluster_kinds:
            yield (
                f"AppProject {name}: clusterResourceWhitelist {kind} is not in "
                f"allowedClusterKinds {list(cluster_kinds)}"
            )


def _application_findings(
    what: str,
    spec: Mapping[str, Any],
    projects: Mapping[str, Resource],
    allowed: Sequence[str],
    no_prune: Sequence[str],
) -> Iterator[str]:
    project_name = str(spec.get("project") or "default")
    project = projects.get(project_name)
    if project is None:
        yield f"{what}: project {project_name} is not an AppProject of the plan"
        return
    project_repos = [str(r) for r in as_list(get(project.props, "spec.sourceRepos"))]
    for source in _sources(spec):
        repo = str(source.get("repoURL"))
        if repo not in allowed:
            yield f"{what}: source {repo} is not in allowedRepositories {list(allowed)}"
        elif not any(fnmatch.fnmatchcase(repo, pattern) for pattern in project_repos):
            yield f"{what}: source {repo} is not in project {project_name}'s sourceRepos"
    destination = as_mapping(spec.get("destination"))
    namespace = str(destination.get("namespace") or "")
    namespaces = [
        str(get(d, "namespace", "")) for d in as_list(get(project.props, "spec.destinations"))
    ]
    if not any(fnmatch.fnmatchcase(namespace, pattern) for pattern in namespaces):
        yield (
            f"{what}: destination namespace '{namespace}' is not one of project "
            f"{project_name}'s {namespaces}"
        )
    prune = get(spec, "syncPolicy.automated.prune")
    if project_name in no_prune and prune in (True, "true"):
        yield (
            f"{what}: project {project_name} may not prune automatically "
            "(syncPolicy.automated.prune must be false)"
        )


def applications_confined(
    resources: Sequence[Resource], config: Mapping[str, Any]
) -> Iterator[tuple[str, Finding]]:
    allowed = [str(r) for r in config.get("allowedRepositories", DEFAULT_REPOSITORIES)]
    cluster_kinds = [str(k) for k in config.get("allowedClusterKinds", [])]
    no_prune = [str(p) for p in config.get("noAutoPruneProjects", ["prod"])]
    projects: dict[str, Resource] = {}
    for r in resources:
        if r.type != APP_PROJECT:
            continue
        projects[str(get(r.props, "metadata.name", r.name))] = r
        try:
            for finding in _project_findings(r, allowed, cluster_kinds):
                yield r.urn, finding
        except UnknownRead as exc:
            yield r.urn, Undecided(exc.path)
    for r in resources:
        if r.type not in (APPLICATION, APPLICATION_SET):
            continue
        try:
            for what, spec in _applications(r):
                for finding in _application_findings(what, spec, projects, allowed, no_prune):
                    yield r.urn, finding
        except UnknownRead as exc:
            yield r.urn, Undecided(exc.path)


RULES = [
    Rule(
        "argocd-application-confined",
        "Argo CD Applications and ApplicationSet templates take their sources only from the "
        "allowed repositories and their project's sourceRepos, deliver only into their "
        "project's namespaces, and never prune automatically in the no-auto-prune projects "
        "(prod); projects list only allowed repositories and no cluster-scoped kinds.",
        "high",
        "Point spec.source.repoURL at the platform repository, set destination.namespace to "
        "a namespace of the AppProject, set syncPolicy.automated.prune: false in prod, and "
        "keep sourceRepos and clusterResourceWhitelist of each AppProject to what is allowed.",
        AREA,
        stack_check=applications_confined,
        config_schema={
            "allowedRepositories": {
                "type": "array",
                "items": {"type": "string"},
                "default": list(DEFAULT_REPOSITORIES),
                "description": "git repositories Argo CD may deliver from",
                "x-relax": "subset",
            },
            "allowedClusterKinds": {
                "type": "array",
                "items": {"type": "string"},
                "default": [],
                "description": "group/kind of cluster-scoped objects a project may allow",
                "x-relax": "subset",
            },
            "noAutoPruneProjects": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["prod"],
                "description": "AppProjects whose Applications may not prune automatically",
                "x-relax": "superset",
            },
        },
    ),
]
