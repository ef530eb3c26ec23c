"""What find, grep and dupes look for and how they decide (pure)."""
