"""Plans carried out: the executor, mirror and apply, undo, crash recovery and backup folders."""
