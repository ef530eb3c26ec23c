"""Two-way sync as values: the base, update detection, the merge of three listings, reconciliation."""
