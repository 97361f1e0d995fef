"""Backups: Velero's Kubernetes state backups (``velero``) and the EventBridge rules and S3
notifications that page on failed data-store backups and late replication (``events``)."""
