"""Compare two trees: scan, pair, settle content questions, partition large local compares."""
