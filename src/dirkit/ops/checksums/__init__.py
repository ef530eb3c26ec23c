"""The digest engine, manifests of trees, and verify against a checksum file."""
