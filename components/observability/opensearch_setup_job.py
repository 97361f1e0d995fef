"""Apply the log domain's security roles and ISM retention policy (runs in a Kubernetes Job).

Shipped to the cluster as a ConfigMap by ``components/opensearch_setup.py`` and run with
``python3 opensearch_setup_job.py /opt/setup/config.json`` in a stock Python image. It uses
only the standard library: credentials come from IRSA (the web identity token the EKS pod
identity webhook projects, exchanged at the regional STS endpoint) and every request to
the domain is signed with SigV4 here, so the image needs no pip install at run time.

Every step is idempotent, so a re-run (a Job retry, or the next ``pulumi up``) converges:

- roles and role mappings are ``PUT``, which replaces the whole document;
- the ISM policy carries a fingerprint of its desired body in its description. An equal
  fingerprint means nothing to do; a different one is updated with ``if_seq_no`` and
  ``if_primary_term`` (optimistic concurrency: a concurrent edit fails the run instead of
  being overwritten silently). The stored policy cannot be compared field by field
  because ISM adds fields of its own (``last_updated_time``, ``schema_version``, retry
  defaults), and delete-then-create would leave managed indexes without their policy.
- existing indexes that no policy manages get it with ``_ism/add`` (the ``ism_template``
  only catches indexes created after the policy); when the policy changed, or the explain
  API shows an index still on an older version, ``_ism/change_policy`` moves them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

SERVICE = "es"
ISM = "/_plugins/_ism"
SECURITY = "/_plugins/_security/api"
FINGERPRINT = "config-sha256:"
# Transient answers: throttling, a domain busy applying a change, IAM not yet consistent
# for a role policy created seconds ago. Anything else fails at once.
RETRY_STATUSES = frozenset({403, 429, 500, 502, 503, 504})
ATTEMPTS = 6


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str | None = None


@dataclass(frozen=True)
class Response:
    status: int
    body: Any


# (method, path with query, JSON body or None) -> response
Transport = Callable[[str, str, Any], Response]


# -- SigV4 ---------------------------------------------------------------------------


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def canonical_query(query: str) -> str:
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    return "&".join(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
        for k, v in sorted(pairs)
    )


def sign(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    credentials: Credentials,
    region: str,
    now: dt.datetime,
    service: str = SERVICE,
) -> dict[str, str]:
    """``headers`` plus ``X-Amz-Date``, the session token and ``Authorization`` (SigV4).

    The path is encoded once more for the canonical request, as AWS expects of every
    service but S3 (``logs-*`` is sent as is and signed as ``logs-%2A``).
    """
    parts = urllib.parse.urlsplit(url)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    signed = {k.lower(): v.strip() for k, v in headers.items()}
    signed["host"] = parts.netloc
    signed["x-amz-date"] = stamp
    if credentials.token:
        signed["x-amz-security-token"] = credentials.token
    names = sorted(signed)
    canonical = "\n".join(
        [
            method,
            urllib.parse.quote(parts.path or "/", safe="/~"),
            canonical_query(parts.query),
            "".join(f"{name}:{signed[name]}\n" for name in names),
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(("AWS4" + credentials.secret_key).encode(), stamp[:8])
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    result = dict(headers)
    result["X-Amz-Date"] = stamp
    if credentials.token:
        result["X-Amz-Security-Token"] = credentials.token
    result["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return result


# -- credentials ---------------------------------------------------------------------


def assume_role_request(role_arn: str, token: str, region: str) -> tuple[str, bytes]:
    """URL and form body of AssumeRoleWithWebIdentity (unsigned: the token is the proof).

    The regional endpoint, not sts.amazonaws.com: the namespace may reach the VPC's STS
    interface endpoint, not the internet.
    """
    form = urllib.parse.urlencode(
        {
            "Action": "AssumeRoleWithWebIdentity",
            "Version": "2011-06-15",
            "RoleArn": role_arn,
            "RoleSessionName": "opensearch-setup",
            "WebIdentityToken": token,
        }
    )
    return f"https://sts.{region}.amazonaws.com/", form.encode()


def parse_credentials(xml_text: str) -> Credentials:
    values = {
        element.tag.rsplit("}", 1)[-1]: (element.text or "")
        for element in ET.fromstring(xml_text).iter()
    }
    missing = [k for k in ("AccessKeyId", "SecretAccessKey", "SessionToken") if not values.get(k)]
    if missing:
        raise RuntimeError(f"STS answer without {missing}")
    return Credentials(values["AccessKeyId"], values["SecretAccessKey"], values["SessionToken"])


def credentials_from_environment(region: str) -> Credentials:
    if os.environ.get("AWS_ACCESS_KEY_ID"):  # a person running it by hand
        return Credentials(
            os.environ["AWS_ACCESS_KEY_ID"],
            os.environ["AWS_SECRET_ACCESS_KEY"],
            os.environ.get("AWS_SESSION_TOKEN"),
        )
    with open(os.environ["AWS_WEB_IDENTITY_TOKEN_FILE"], encoding="utf-8") as handle:
        token = handle.read().strip()
    url, form = assume_role_request(os.environ["AWS_ROLE_ARN"], token, region)
    request = urllib.request.Request(
        url,
        data=form,
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return parse_credentials(answer.read().decode())


def https_transport(endpoint: str, region: str, credentials: Credentials) -> Transport:
    """Signed JSON requests to the domain, retried on transient answers."""
    host = endpoint.removeprefix("https://").rstrip("/")

    def call(method: str, path: str, body: Any) -> Response:
        data = b"" if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if body is not None else {}
        for attempt in range(1, ATTEMPTS + 1):
            signed = sign(
                method,
                f"https://{host}{path}",
                headers,
                data,
                credentials=credentials,
                region=region,
                now=_now(),
            )
            request = urllib.request.Request(
                f"https://{host}{path}", data=data or None, method=method, headers=signed
            )
            try:
                with urllib.request.urlopen(request, timeout=60) as answer:
                    return Response(answer.status, _json(answer.read()))
            except urllib.error.HTTPError as error:
                response = Response(error.code, _json(error.read()))
                if error.code not in RETRY_STATUSES or attempt == ATTEMPTS:
                    return response
            except (urllib.error.URLError, TimeoutError) as error:
                if attempt == ATTEMPTS:
                    raise RuntimeError(f"{method} {path}: {error}") from error
            log("retry", method=method, path=path, attempt=attempt)
            time.sleep(min(2**attempt, 30))
        raise AssertionError("unreachable")

    return call


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode(errors="replace")


# -- reconciling ---------------------------------------------------------------------


def log(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}, sort_keys=True), flush=True)


def _expect(response: Response, what: str, ok: tuple[int, ...] = (200, 201)) -> Response:
    if response.status not in ok:
        raise RuntimeError(f"{what}: HTTP {response.status}: {response.body}")
    return response


def fingerprint(policy: Mapping[str, Any]) -> str:
    canonical = json.dumps(policy, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def with_fingerprint(policy: Mapping[str, Any]) -> dict[str, Any]:
    """The policy as stored: its description ends with the fingerprint of its body."""
    stamped = dict(policy)
    stamped["description"] = f"{policy.get('description', '')} [{FINGERPRINT}{fingerprint(policy)}]"
    return stamped


def ensure_ism_policy(
    call: Transport, policy_id: str, policy: Mapping[str, Any]
) -> tuple[bool, int]:
    """Create or update the policy: (whether the domain's copy changed, its ``_seq_no``)."""
    path = f"{ISM}/policies/{policy_id}"
    desired = with_fingerprint(policy)
    current = call("GET", path, None)
    if current.status == 404:
        created = _expect(call("PUT", path, {"policy": desired}), f"create ISM policy {policy_id}")
        log("ism-policy", policy_id=policy_id, action="created")
        return True, int(created.body["_seq_no"])
    _expect(current, f"read ISM policy {policy_id}")
    stored = current.body.get("policy", {}).get("description", "")
    if stored == desired["description"]:
        log("ism-policy", policy_id=policy_id, action="unchanged")
        return False, int(current.body["_seq_no"])
    query = urllib.parse.urlencode(
        {"if_seq_no": current.body["_seq_no"], "if_primary_term": current.body["_primary_term"]}
    )
    updated = _expect(
        call("PUT", f"{path}?{query}", {"policy": desired}), f"update ISM policy {policy_id}"
    )
    log("ism-policy", policy_id=policy_id, action="updated")
    return True, int(updated.body["_seq_no"])


def stale_indexes(explain: Any, policy_id: str, seq_no: int) -> list[str]:
    """Indexes that run an older version of the policy (ISM binds an index to the version
    it started with). Indexes not yet initialised carry no ``policy_seq_no``: skipped."""
    if not isinstance(explain, Mapping):
        return []
    return sorted(
        name
        for name, state in explain.items()
        if isinstance(state, Mapping)
        and state.get("policy_id") == policy_id
        and state.get("policy_seq_no") not in (None, seq_no)
    )


def apply_ism_policy(
    call: Transport, pattern: str, policy_id: str, seq_no: int, changed: bool
) -> None:
    """Put unmanaged existing indexes under the policy; move managed ones to its version.

    ``change_policy`` also runs when an earlier run updated the policy but stopped before
    moving the indexes: the explain API shows which still run an older version.
    """
    index = urllib.parse.quote(pattern, safe="*,-_.")
    added = call("POST", f"{ISM}/add/{index}", {"policy_id": policy_id})
    # 404: no index matches yet; the ism_template attaches the policy to new ones.
    _expect(added, f"add ISM policy to {pattern}", ok=(200, 404))
    log("ism-add", pattern=pattern, result=added.body)
    explain = _expect(call("GET", f"{ISM}/explain/{index}", None), "explain", ok=(200, 404))
    stale = stale_indexes(explain.body, policy_id, seq_no) if explain.status == 200 else []
    if changed or stale:
        moved = call("POST", f"{ISM}/change_policy/{index}", {"policy_id": policy_id})
        _expect(moved, f"change ISM policy of {pattern}", ok=(200, 404))
        log("ism-change-policy", pattern=pattern, stale=stale, result=moved.body)


def ensure_role(call: Transport, name: str, role: Mapping[str, Any]) -> None:
    _expect(call("PUT", f"{SECURITY}/roles/{name}", dict(role)), f"put role {name}")
    log("role", name=name)


def ensure_role_mapping(call: Transport, role: str, mapping: Mapping[str, Any]) -> None:
    """Own the mapping's backend roles; with ``keep_users``, keep its users and hosts.

    ``all_access`` and ``security_manager`` hold the domain's master user, which the
    service maintains itself: those keep whatever users the domain put there.
    """
    body: dict[str, Any] = {
        "backend_roles": sorted(set(mapping["backend_roles"])),
        "users": [],
        "hosts": [],
        "description": mapping.get("description", "managed by agent-factory opensearch-setup"),
    }
    if mapping.get("keep_users"):
        current = call("GET", f"{SECURITY}/rolesmapping/{role}", None)
        _expect(current, f"read role mapping {role}", ok=(200, 404))
        if current.status == 200:
            existing = current.body.get(role, {})
            body["users"] = list(existing.get("users", []))
            body["hosts"] = list(existing.get("hosts", []))
    path = f"{SECURITY}/rolesmapping/{role}"
    _expect(call("PUT", path, body), f"put role mapping {role}")
    log("role-mapping", role=role, backend_roles=body["backend_roles"])


def run(config: Mapping[str, Any], call: Transport) -> None:
    # Security first: when the master user moves to the admin role, the log shipper has
    # no access until its writer role is mapped.
    for name, role in config["roles"].items():
        ensure_role(call, name, role)
    for role, mapping in config["role_mappings"].items():
        ensure_role_mapping(call, role, mapping)
    policy_id = config["ism_policy_id"]
    changed, seq_no = ensure_ism_policy(call, policy_id, config["ism_policy"])
    apply_ism_policy(call, config["index_pattern"], policy_id, seq_no, changed)


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as handle:
        config = json.load(handle)
    region = config["region"]
    try:
        credentials = credentials_from_environment(region)
        run(config, https_transport(config["endpoint"], region, credentials))
    except Exception as error:  # the Job's log is the report: one line, then fail
        log("failed", error=str(error))
        return 1
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
