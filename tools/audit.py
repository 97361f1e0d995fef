"""``python -m tools.audit``: pip-audit over the venv, failing on any known vulnerability.

pip-audit asks PyPI's JSON API (``/pypi/<name>/<version>/json``) for each installed
distribution. Where that API does not answer (this project's own CI machine reaches only
the package index), pip-audit reports every dependency as "not found on PyPI" and still
exits 0 with "No known vulnerabilities found". This wrapper never lets that pass as a clean
audit: it prints how many distributions went unaudited, and fails when
``AUDIT_REQUIRE_SERVICE=1`` (set in the GitHub pull-request workflow, whose runners reach
the API) or when a vulnerability is reported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def summarize(report: dict[str, object]) -> tuple[list[str], list[str], int]:
    """(vulnerabilities as 'name version id', unaudited names, audited count)."""
    found: list[str] = []
    skipped: list[str] = []
    audited = 0
    dependencies = report.get("dependencies", [])
    assert isinstance(dependencies, list)  # noqa: S101 - pip-audit's JSON shape
    for dependency in dependencies:
        if "skip_reason" in dependency:
            skipped.append(dependency["name"])
            continue
        audited += 1
        for vulnerability in dependency.get("vulns", []):
            found.append(f"{dependency['name']} {dependency['version']} {vulnerability['id']}")
    return found, skipped, audited


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "audit.json"
        executable = Path(sys.executable).with_name("pip-audit")
        subprocess.run(  # noqa: S603 - fixed argument list
            [str(executable), "-f", "json", "--progress-spinner", "off", "-o", str(output)],
            check=False,
            stderr=subprocess.DEVNULL,
        )
        if not output.exists():
            print("audit: pip-audit wrote no report")
            return 1
        report = json.loads(output.read_text())
    found, skipped, audited = summarize(report)
    for line in found:
        print(f"audit: vulnerable {line}")
    required = os.environ.get("AUDIT_REQUIRE_SERVICE") == "1"
    if skipped:
        print(
            f"audit: {len(skipped)} of {len(skipped) + audited} distributions could not be "
            "audited (PyPI's vulnerability API did not answer for them)"
            + ("" if required else "; AUDIT_REQUIRE_SERVICE=1 makes this an error")
        )
    if found or (skipped and required):
        return 1
    if audited:
        print(f"audit: {audited} distributions audited, no known vulnerabilities")
    return 0


if __name__ == "__main__":
    sys.exit(main())
