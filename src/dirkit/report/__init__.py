"""Render values (diffs, plans, results) as text and JSON for people and scripts."""
