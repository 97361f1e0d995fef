"""Add-ons: what runs in the cluster for the platform itself (``cluster_addons``)."""
