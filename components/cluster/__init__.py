"""Cluster: the EKS control plane (``cluster``) and the managed node groups (``nodepools``)."""
