"""The helper process of a partitioned compare: reads chunks on stdin, writes results on stdout.

Run as `python -m dirkit.ops.compare.compare_worker`; the first message is (left_root, right_root,
options), then each message is a chunk of units (None to stop), answered by its result.
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
    left_root, right_root, options = pickle.load(reader)
    left, right = LocalBackend(left_root), LocalBackend(right_root)
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
