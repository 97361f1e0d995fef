"""Security: KMS keys (``keys``) and the guards around every team, tenant and the account
(``security``: namespaces, RBAC, workload identities, tenants, ingress, certificates,
secrets delivery, GuardDuty, CloudTrail)."""
