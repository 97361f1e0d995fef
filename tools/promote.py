"""promote: move the services' images one environment forward (dev -> staging -> prod).

``python -m tools.promote staging`` copies every workload's tag and digest from
``Pulumi.dev.yaml`` into ``Pulumi.staging.yaml`` (``prod``: from staging), line by line,
so the stack file's comments and layout stay and the pull request's diff is the images
and nothing else. The secondary regions have no images of their own: they run prod's.
The promotion workflow (.github/workflows/promote.yml) runs this, ``make plan`` on the
target stack, and opens the pull request; docs/delivery.md has the whole flow.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from components.settings import WORKLOADS, SettingsError
from tools.stackconfig import StackConfigError, stack_settings

ROOT = Path(__file__).resolve().parent.parent
# Where each environment's images come from.
SOURCE = {"staging": "dev", "prod": "staging"}
_LINE = re.compile(
    r"^(?P<indent>\s+)(?P<workload>[a-z-]+): "
    r'\{tag: "(?P<tag>[^"]+)", digest: "(?P<digest>[^"]+)"\}\s*$'
)


class PromotionError(RuntimeError):
    """The promotion cannot be written; the message is for the user as is."""


def images_of(text: str) -> dict[str, tuple[str, str]]:
    """Workload -> (tag, digest) of a stack file's ``services.images`` lines."""
    found = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if match and match["workload"] in WORKLOADS:
            found[match["workload"]] = (match["tag"], match["digest"])
    return found


def promote(target: str, root: Path = ROOT) -> dict[str, tuple[str, str]]:
    """Rewrite ``Pulumi.<target>.yaml`` with the images of the environment before it;
    return what changed (workload -> (old tag, new tag))."""
    if target not in SOURCE:
        raise PromotionError(f"promote to one of {', '.join(SOURCE)}, not '{target}'")
    source_file = root / f"Pulumi.{SOURCE[target]}.yaml"
    target_file = root / f"Pulumi.{target}.yaml"
    source = images_of(source_file.read_text())
    missing = sorted(set(WORKLOADS) - set(source))
    if missing:
        raise PromotionError(f"{source_file.name}: no image line for {missing}")
    text = target_file.read_text()
    current = images_of(text)
    if set(current) != set(WORKLOADS):
        raise PromotionError(
            f"{target_file.name}: expected one image line per workload, found {sorted(current)}"
        )
    lines = []
    for line in text.splitlines(keepends=True):
        match = _LINE.match(line.rstrip("\n"))
        if match and match["workload"] in WORKLOADS:
            tag, digest = source[match["workload"]]
            indent, workload = match["indent"], match["workload"]
            lines.append(f'{indent}{workload}: {{tag: "{tag}", digest: "{digest}"}}\n')
        else:
            lines.append(line)
    target_file.write_text("".join(lines))
    try:
        stack_settings(root, target)  # the promoted file must still load (tag, digest rules)
    except (StackConfigError, SettingsError) as exc:
        target_file.write_text(text)
        raise PromotionError(f"{target_file.name}: {exc}") from None
    return {w: (current[w][0], source[w][0]) for w in WORKLOADS if current[w] != source[w]}


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print("usage: python -m tools.promote staging|prod", file=sys.stderr)
        return 2
    try:
        changed = promote(args[0], root)
    except PromotionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not changed:
        print(f"{args[0]} already runs the images of {SOURCE[args[0]]}")
    for workload, (old, new) in changed.items():
        print(f"{workload}: {old} -> {new}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
