"""Digest algorithms, checksum-file lines and verify results (pure)."""
