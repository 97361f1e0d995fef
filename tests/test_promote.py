"""Promotion as code: tools.promote moves tag and digest one environment forward and
touches nothing else in the stack file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from components.settings import WORKLOADS
from tests.conftest import ROOT
from tools.promote import images_of, main, promote

NEW = "sha256:" + "ab" * 32


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.staging.yaml", "Pulumi.prod.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def _release(path: Path, workload: str, tag: str, digest: str) -> None:
    text = path.read_text()
    old_tag, old_digest = images_of(text)[workload]
    line = f'{workload}: {{tag: "{old_tag}", digest: "{old_digest}"}}'
    path.write_text(text.replace(line, f'{workload}: {{tag: "{tag}", digest: "{digest}"}}'))


def test_staging_gets_devs_images_and_nothing_else_changes(root: Path) -> None:
    _release(root / "Pulumi.dev.yaml", "worker", "0.2.0", NEW)
    before = (root / "Pulumi.staging.yaml").read_text()
    assert promote("staging", root) == {"worker": ("0.1.0", "0.2.0")}
    after = (root / "Pulumi.staging.yaml").read_text()
    assert images_of(after)["worker"] == ("0.2.0", NEW)
    changed = [
        (a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b
    ]
    assert len(changed) == 1 and "worker" in changed[0][1]
    # prod is untouched until its own promotion, which reads staging.
    assert images_of((root / "Pulumi.prod.yaml").read_text())["worker"][0] == "0.1.0"
    assert promote("prod", root) == {"worker": ("0.1.0", "0.2.0")}
    assert set(images_of((root / "Pulumi.prod.yaml").read_text())) == set(WORKLOADS)


def test_an_image_the_settings_refuse_is_not_written(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _release(root / "Pulumi.dev.yaml", "worker", "latest", NEW)
    before = (root / "Pulumi.staging.yaml").read_text()
    assert main(["staging"], root) == 2
    assert "'latest' moves under running pods" in capsys.readouterr().err
    assert (root / "Pulumi.staging.yaml").read_text() == before


def test_only_staging_and_prod_are_promotion_targets(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["prod-eu-west-1"], root) == 2
    assert capsys.readouterr().err == (
        "error: promote to one of staging, prod, not 'prod-eu-west-1'\n"
    )
