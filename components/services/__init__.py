"""The Agent Factory services on the platform: the in-repo chart and what it needs."""
