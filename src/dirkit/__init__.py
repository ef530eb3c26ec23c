"""dirkit: compare, mirror, sync, search, verify, split and pack whole directory trees."""

__version__ = "0.1.0"
