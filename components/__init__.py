"""Typed ComponentResources of the Agent Factory platform and their settings."""
