"""Trees as values: relative paths, entries, snapshots and the filters of a scan (pure)."""
