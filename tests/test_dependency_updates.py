"""Renovate's configuration finds every pin the repository keeps (renovate.json)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from components.addons.charts import CHARTS
from tools.audit import summarize

ROOT = Path(__file__).resolve().parents[1]
CONFIG = json.loads((ROOT / "renovate.json").read_text())


def _manager(datasource: str) -> dict[str, object]:
    [manager] = [m for m in CONFIG["customManagers"] if m["datasourceTemplate"] == datasource]
    return manager


def _matches(manager: dict[str, object], path: str) -> list[dict[str, str]]:
    [pattern] = manager["managerFilePatterns"]  # type: ignore[misc]
    assert re.search(pattern.strip("/"), path), f"{pattern} does not select {path}"
    found = []
    for expression in manager["matchStrings"]:  # type: ignore[attr-defined]
        # Renovate's (JavaScript) named groups, in Python's spelling.
        python = re.compile(expression.replace("(?<", "(?P<"))
        found += [m.groupdict() for m in python.finditer((ROOT / path).read_text())]
    return found


def test_the_regex_manager_reads_every_chart_of_the_table():
    found = _matches(_manager("helm"), "components/addons/charts.py")
    assert {m["depName"]: (m["registryUrl"], m["currentValue"]) for m in found} == {
        chart.name: (chart.repo, chart.version) for chart in CHARTS.values()
    }
    assert len(found) == len(CHARTS)


def test_the_gitleaks_image_is_tracked():
    [found] = _matches(_manager("docker"), ".github/workflows/pull-request.yml")
    assert found["depName"] == "ghcr.io/gitleaks/gitleaks"
    assert re.fullmatch(r"v\d+\.\d+\.\d+", found["currentValue"])


def test_pip_and_actions_managers_are_enabled():
    assert set(CONFIG["enabledManagers"]) == {"pip_requirements", "github-actions", "custom.regex"}
    assert "helpers:pinGitHubActionDigests" in CONFIG["extends"]


def test_audit_counts_vulnerable_and_unaudited_distributions():
    report = {
        "dependencies": [
            {"name": "jinja2", "version": "2.10", "vulns": [{"id": "PYSEC-2019-217"}]},
            {"name": "rich", "version": "15.0.0", "vulns": []},
            {"name": "pulumi", "skip_reason": "Dependency not found on PyPI"},
        ]
    }
    assert summarize(report) == (["jinja2 2.10 PYSEC-2019-217"], ["pulumi"], 2)
