"""What the platform may spend and what watches it: budgets, anomaly detection,
cost-allocation tags and the off-hours scale-down of dev's node pools."""
