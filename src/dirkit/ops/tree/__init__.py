"""Scanning trees, and the worker processes and GC pause that scans and searches share."""
