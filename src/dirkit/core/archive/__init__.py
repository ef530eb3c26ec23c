"""Archive formats, the tar byte format, and the safety rules for members (pure)."""
