"""Pure data types and functions: paths, entries, snapshots, matching, diffs. No I/O here."""
