"""What a stack assumes exists before ``pulumi up``, declared where the assumption is made.

Some things cannot be created by the stack that needs them: a value only a person holds
(an integration key), an account-wide singleton another stack owns. A component that
relies on one declares it here and registers the list as the component output
``prerequisites``; the offline preview prints every prerequisite of the stack, and its
checks accept a Secrets Manager entry with no value in the plan only when a prerequisite
says who sets it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PREREQUISITES_OUTPUT = "prerequisites"


@dataclass(frozen=True)
class Prerequisite:
    """``what`` must hold before the first ``pulumi up``; ``how`` makes it hold.

    ``secret`` names the Secrets Manager entry this prerequisite fills with a value.
    """

    what: str
    how: str
    secret: str | None = None

    def to_output(self) -> dict[str, Any]:
        return {"what": self.what, "how": self.how, "secret": self.secret}


def prerequisites_output(items: list[Prerequisite]) -> dict[str, Any]:
    """The ``register_outputs`` entry of a component that relies on prerequisites."""
    return {PREREQUISITES_OUTPUT: [item.to_output() for item in items]}
