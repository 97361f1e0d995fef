"""Kubernetes building blocks: fenced namespaces (``namespaces``) and tenants (``tenancy``)."""
