"""The helper process of a partitioned compare: reads chunks on stdin, writes results on stdout.

Run as `python -m dirkit.ops.compare.compare_worker`; the first message is (left_root, right_root,
left_capabilities, right_capabilities, options): the trees are reopened by their OS paths with the
capabilities the parent's backends declared (a wrapper may declare less than the disk can); then
each message is a chunk of units (None to stop), answered by its result.
"""

from __future__ import annotations

import gc
import pickle
import sys

from dirkit.backends.local import LocalBackend
from dirkit.ops.compare.partition import compare_work


def serve() -> None:
    """Answer chunks until told to stop or the pipe closes."""
    reader, writer = sys.stdin.buffer, sys.stdout.buffer
    left_root, right_root, left_capabilities, right_capabilities, options = pickle.load(reader)
    left = LocalBackend(left_root, capabilities=left_capabilities)
    right = LocalBackend(right_root, capabilities=right_capabilities)
    while True:
        try:
            work = pickle.load(reader)
        except EOFError:
            return
        if work is None:
            return
        pickle.dump(compare_work(left, right, work, options), writer, pickle.HIGHEST_PROTOCOL)
        writer.flush()


if __name__ == "__main__":
    gc.disable()
    serve()
