"""Find, grep and dupes on a tree, and the dupes actions as undoable runs."""
