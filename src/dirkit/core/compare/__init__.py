"""Comparing two snapshots: pairing by path, sameness, diffs, moves and text diffs (pure)."""
