"""Supply chain: the services' image registries and CI's GitHub identities."""
