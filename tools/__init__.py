"""Offline preview: run the real program against Pulumi's mock engine (no CLI, no cloud)."""
