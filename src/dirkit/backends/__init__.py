"""Backends: I/O on one kind of tree (memory, local disk, ...) behind one protocol."""
