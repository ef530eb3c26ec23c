"""Plans and runs: actions, the mirror planner, guards, and undo plans from journals (pure)."""
