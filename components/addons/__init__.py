"""Add-ons: what runs in the cluster for the platform itself.

- ``registry``: :class:`HelmAddon`, the one way a Helm chart is installed (pinned chart,
  values, footprint, optional IRSA role and scrape source);
- ``charts``: the one chart table (name, repository, version), overridable per stack;
- one module per chart holding only its values, footprint and IAM policy document
  (``ingress_nginx``, ``cert_manager``, ``external_secrets``, ``cluster_autoscaler``,
  ``metrics_server``, ``kube_prometheus_stack``, ``blackbox_exporter``, ``fluent_bit``,
  ``tempo``, ``otel_collector``), and ``scheduling`` for what several share;
- ``cluster_addons``: the EKS managed add-ons (CoreDNS, EBS CSI), the default StorageClass
  and metrics-server.

Adding a chart: a row in ``charts.CHARTS``, a module with ``values()``, ``footprint()`` (and
``policy()`` for an IRSA role), and one ``HelmAddon`` in the component that owns it.
"""
