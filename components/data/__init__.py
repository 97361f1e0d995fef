"""Data: PostgreSQL, the cache, Kafka and secrets (``datastores``) and the buckets (``buckets``)."""
