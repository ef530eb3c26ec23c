"""The command line: parses arguments, calls ops, prints reports, picks exit codes."""
