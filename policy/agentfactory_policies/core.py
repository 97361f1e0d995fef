"""The shape of a rule and the helpers every area shares (no Pulumi imports here).

Unknown values
--------------
On a real first ``pulumi preview`` many inputs are unknown (ids and ARNs of resources not
created yet). The catalog hands rules plain data in which each unknown is an
:class:`Unknown` carrying its property path. Rules read only the properties they need:

* a presence check (``kmsKeyId`` must be set) counts an unknown as set (``present``);
* a value check whose value is unknown yields :class:`Undecided`, never a verdict;
* any other use of an unknown (truth value, comparison, iteration, attribute) raises
  :class:`UnknownRead`, which :func:`guarded` and :func:`must` turn into ``Undecided`` for
  that one check only, so the known properties of the same resource are still judged.

The catalog reports violations at the rule's level and the undecided checks once, as the
engine's advisory "can't be known during preview" note.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn, TypeGuard

Level = Literal["advisory", "mandatory", "remediate", "disabled"]
Severity = Literal["low", "medium", "high", "critical"]


class UnknownRead(Exception):  # noqa: N818 - it is a signal, not an error
    """A rule used a value that is unknown during preview."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class Unknown:
    """A value the engine does not know yet. Only ``is_unknown`` and f-strings are safe."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path

    def __repr__(self) -> str:
        return "[unknown]"

    def __format__(self, _spec: str) -> str:
        # Messages may name an unknown ({value} in an f-string); converting one with str()
        # to compare it is a read, and raises like any other.
        return "[unknown]"

    __hash__ = object.__hash__

    def _poison(self, *_args: Any, **_kwargs: Any) -> NoReturn:
        raise UnknownRead(self.path)

    __str__ = _poison
    __bool__ = _poison
    __eq__ = _poison
    __ne__ = _poison
    __lt__ = _poison
    __le__ = _poison
    __gt__ = _poison
    __ge__ = _poison
    __iter__ = _poison
    __len__ = _poison
    __contains__ = _poison
    __getitem__ = _poison
    __int__ = _poison
    __float__ = _poison

    def __getattr__(self, _name: str) -> NoReturn:
        raise UnknownRead(self.path)


@dataclass(frozen=True)
class Undecided:
    """A check that cannot be decided until the named property is known."""

    path: str


Finding = str | Undecided


def is_unknown(value: Any) -> TypeGuard[Unknown]:
    return isinstance(value, Unknown)


def known(value: Any) -> Any:
    """``value`` itself; reading an unknown raises (for ``is True`` / ``is None`` tests,
    which would otherwise pass an unknown silently)."""
    if isinstance(value, Unknown):
        raise UnknownRead(value.path)
    return value


def present(value: Any) -> bool:
    """Set to something: an unknown value is set (it will be an id or ARN)."""
    return is_unknown(value) or bool(value)


def guarded(check: Callable[..., Iterable[Finding]], *args: Any) -> Iterator[Finding]:
    """Run one independent check; an unknown it touches makes only this check undecided."""
    try:
        yield from check(*args)
    except UnknownRead as exc:
        yield Undecided(exc.path)


def must(condition: Callable[[], Any], message: str) -> Iterator[Finding]:
    """Yield ``message`` if ``condition()`` is false; Undecided if it reads an unknown."""
    try:
        ok = bool(condition())
    except UnknownRead as exc:
        yield Undecided(exc.path)
        return
    if not ok:
        yield message


@dataclass(frozen=True)
class Resource:
    """What a rule sees of one resource: the analyzer request, unwrapped."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    provider_props: Mapping[str, Any] = field(default_factory=dict)
    protect: bool = False
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def deps(self, *keys: str) -> set[str]:
        """URNs the named input properties were computed from (what links resources)."""
        found: set[str] = set()
        for key in keys:
            found.update(self.property_dependencies.get(key, ()))
        return found


ResourceCheck = Callable[[Resource, Mapping[str, Any]], Iterable[Finding]]
StackCheck = Callable[[Sequence[Resource], Mapping[str, Any]], Iterable[tuple[str, Finding]]]


@dataclass(frozen=True)
class Rule:
    """One policy: metadata plus a pure check.

    A resource rule yields findings for one resource; a stack rule yields (urn, finding)
    pairs over all resources. ``types`` limits a resource rule to those resource types.
    ``security`` rules may not be disabled or downgraded in a production stack's policy
    config; config properties say how they may be tuned there with ``x-relax``:
    ``min``/``max`` (not below/above the default), ``subset`` (only entries of the
    default), ``superset`` (at least the default's entries), ``reasoned`` (each entry
    needs a reason), ``stack`` (names another stack), ``free`` (any value). A property
    without ``x-relax`` cannot be set in production.
    """

    name: str
    description: str
    severity: Severity
    remediation: str
    area: str
    resource_check: ResourceCheck | None = None
    stack_check: StackCheck | None = None
    types: frozenset[str] | None = None
    level: Level = "mandatory"
    config_schema: Mapping[str, Any] = field(default_factory=dict)
    security: bool = True

    def defaults(self) -> dict[str, Any]:
        return {k: v["default"] for k, v in self.config_schema.items() if "default" in v}

    def applies_to(self, type_: str) -> bool:
        return self.types is None or type_ in self.types


def as_bool(value: Any) -> bool:
    """Providers take some flags as strings ("true"); inputs may arrive either way."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def get(props: Any, path: str, default: Any = None) -> Any:
    """``a.b.c`` of nested mappings; an unknown on the way is returned as is."""
    current: Any = props
    for part in path.split("."):
        if is_unknown(current):
            return current
        if not isinstance(current, Mapping) or part not in current:
            return default
        current = current[part]
    return current


def as_json(value: Any) -> Any:
    """Policies and tags may arrive as JSON strings or already decoded."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


def as_list(value: Any) -> list[Any]:
    if is_unknown(value):
        raise UnknownRead(value.path)
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def as_int(value: Any, default: int = 0) -> int:
    if is_unknown(value):
        raise UnknownRead(value.path)
    if value is None or value == "":
        return default
    return int(float(value))


def as_mapping(value: Any) -> Mapping[str, Any]:
    if is_unknown(value):
        raise UnknownRead(value.path)
    return value if isinstance(value, Mapping) else {}


def matches(value: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)


# -- networks ------------------------------------------------------------------------------

# Addresses that never route on the internet: a rule admitting only these is private.
NON_PUBLIC = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "fc00::/7",
        "fe80::/10",
        "::1/128",
    )
)
# More public addresses than a /8 (IPv4) or a /32 (IPv6) is "the internet": however it is
# split into CIDRs, nobody lists that many addresses on purpose.
INTERNET_V4 = 2**24
INTERNET_V6 = 2**96

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def network(cidr: Any) -> Network | None:
    try:
        return ipaddress.ip_network(str(cidr).strip(), strict=False)
    except ValueError:
        return None


def public_addresses(cidrs: Iterable[Any]) -> tuple[int, int]:
    """How many public IPv4 and IPv6 addresses the union of ``cidrs`` admits."""
    v4: list[ipaddress.IPv4Network] = []
    v6: list[ipaddress.IPv6Network] = []
    for cidr in cidrs:
        parsed = network(cidr)
        if parsed is None:
            continue
        pieces: list[Network] = [parsed]
        for private in NON_PUBLIC:
            if private.version != parsed.version:
                continue
            next_pieces: list[Network] = []
            for piece in pieces:
                if piece.subnet_of(private):  # type: ignore[arg-type]
                    continue
                if private.subnet_of(piece):  # type: ignore[arg-type]
                    next_pieces.extend(piece.address_exclude(private))  # type: ignore[arg-type]
                else:
                    next_pieces.append(piece)
            pieces = next_pieces
        for piece in pieces:
            if isinstance(piece, ipaddress.IPv4Network):
                v4.append(piece)
            else:
                v6.append(piece)
    count4 = sum(n.num_addresses for n in ipaddress.collapse_addresses(v4))
    count6 = sum(n.num_addresses for n in ipaddress.collapse_addresses(v6))
    return count4, count6


def covers_internet(cidrs: Iterable[Any]) -> bool:
    count4, count6 = public_addresses(cidrs)
    return count4 > INTERNET_V4 or count6 > INTERNET_V6


# -- IAM documents -------------------------------------------------------------------------

ARN = re.compile(
    r"^arn:(?P<partition>[^:]*):(?P<service>[^:]*):(?P<region>[^:]*):(?P<account>[^:]*):"
    r"(?P<resource>.*)$"
)
ACCOUNT_IN_ARN = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12}):")


def statements(document: Any) -> list[Mapping[str, Any]]:
    """The statements of a policy document (JSON string or decoded); unknown raises."""
    if is_unknown(document):
        raise UnknownRead(document.path)
    parsed = as_json(document)
    if not isinstance(parsed, Mapping):
        return []
    return [s for s in as_list(parsed.get("Statement")) if isinstance(s, Mapping)]


def principals(statement: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(kind, value) for each principal: ("*", "*") for the bare wildcard."""
    principal = statement.get("Principal")
    if principal is None:
        return []
    if isinstance(principal, str):
        return [("AWS", principal)]
    found: list[tuple[str, str]] = []
    for kind, values in as_mapping(principal).items():
        found.extend((kind, str(v)) for v in as_list(values))
    return found


def is_everyone(kind: str, value: str) -> bool:
    return kind in ("AWS", "*") and value.strip() == "*"
