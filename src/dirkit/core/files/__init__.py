"""Split parts and their manifest (pure)."""
