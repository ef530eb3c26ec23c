"""Use cases composed from backends and core: scan, compare, and the rest."""
