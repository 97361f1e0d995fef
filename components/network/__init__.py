"""Network: the VPC, its subnet plan (``addressing``) and the endpoints private nodes need."""
