"""Two-way sync of two trees: planning from both scans and the base, then executing on both sides."""
