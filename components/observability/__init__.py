"""Observability: metrics, alerts (``alerts``), dashboards, logs with their retention
(``opensearch_setup``), traces, AWS alarms and the CIS trail alarms (``trail_alarms``)."""
