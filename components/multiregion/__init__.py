"""Multi-region: what stacks read from each other (``crossstack``), the public zone
(``zone``), latency routing (``routing``) and bucket replication (``replication``)."""
