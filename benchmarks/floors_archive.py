"""Python floors of unpack and pack: the smallest Python programs doing their work, on both cores.

    python benchmarks/floors_archive.py unpack ARCHIVE DST   gunzip in a thread; parse ustar/pax headers,
                                                             open/write/utime/close per file, dir times last
    python benchmarks/floors_archive.py pack ROOT OUT        scandir walk, read, ustar headers; gzip -6
                                                             of 1 MiB blocks on 2 threads (as pigz)

No checks, no temporary names, no journal: only what the bytes need. Run as a script (standard
library only); benchmarks/floors.py dispatches its unpack and pack rows here.
"""

from __future__ import annotations

import collections
import os
import queue
import struct
import sys
import threading
import zlib
from concurrent.futures import Future, ThreadPoolExecutor

CHUNK = 1 << 20
BLOCK = 512
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW


class _Inflated:
    """The decompressed bytes of a .tar.gz, inflated by a helper thread (zlib releases the GIL)."""

    def __init__(self, archive: str) -> None:
        self.chunks: queue.Queue[bytes | None] = queue.Queue(8)
        self.buffer = b""
        self.offset = 0
        threading.Thread(target=self._inflate, args=(archive,), daemon=True).start()

    def _inflate(self, archive: str) -> None:
        inflater = zlib.decompressobj(31)
        with open(archive, "rb", buffering=0) as raw:
            while chunk := raw.read(CHUNK):
                self.chunks.put(inflater.decompress(chunk))
        self.chunks.put(inflater.flush())
        self.chunks.put(None)

    def read(self, size: int) -> bytes:
        end = self.offset + size
        if end <= len(self.buffer):
            data = self.buffer[self.offset : end]
            self.offset = end
            return data
        pieces = [self.buffer[self.offset :]]
        have = len(pieces[0])
        while have < size:
            chunk = self.chunks.get()
            if chunk is None:
                self.chunks.put(None)
                break
            pieces.append(chunk)
            have += len(chunk)
        joined = b"".join(pieces)
        self.buffer, self.offset = joined, min(size, len(joined))
        return joined[:size]


def _number(field: bytes) -> int:
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


def unpack(archive: str, target: str) -> None:
    """Extract a .tar.gz into target: files, directories and symlinks with their modes and times."""
    stream = _Inflated(archive)
    os.makedirs(target, exist_ok=True)
    dirs: list[tuple[str, int, int]] = []
    pax: dict[bytes, bytes] = {}
    while True:
        header = stream.read(BLOCK)
        if len(header) < BLOCK or not header.strip(b"\0"):
            break
        size = _number(header[124:136])
        kind = header[156:157]
        padded = size + (-size % BLOCK)
        if kind in (b"x", b"g"):
            data = stream.read(padded)[:size]
            while data:
                length = int(data.split(b" ", 1)[0])
                key, _, value = data[data.index(b" ") + 1 : length - 1].partition(b"=")
                pax[key] = value
                data = data[length:]
            continue
        if kind in (b"L", b"K"):
            pax[b"path" if kind == b"L" else b"linkpath"] = stream.read(padded)[:size].rstrip(b"\0")
            continue
        name = pax.get(b"path") or header[:100].split(b"\0", 1)[0]
        if b"path" not in pax and header[257:262] == b"ustar" and header[345]:
            name = header[345:500].split(b"\0", 1)[0] + b"/" + name
        mtime = pax.get(b"mtime")
        ns = int(float(mtime) * 1e9) if mtime else _number(header[136:148]) * 1_000_000_000
        mode = _number(header[100:108]) & 0o777
        path = os.path.join(target, os.fsdecode(name))
        if kind in (b"0", b"\0", b"7"):
            descriptor = os.open(path, _NEW, mode)
            if size:
                os.write(descriptor, stream.read(size))
                stream.read(padded - size)
            os.utime(descriptor, ns=(ns, ns))
            os.close(descriptor)
        elif kind == b"5":
            if not os.path.isdir(path):
                os.mkdir(path, 0o700)
            dirs.append((path, mode, ns))
        elif kind == b"2":
            link = pax.get(b"linkpath") or header[157:257].split(b"\0", 1)[0]
            os.symlink(link, path)
        pax = {}
    for path, mode, ns in reversed(dirs):
        os.chmod(path, mode)
        os.utime(path, ns=(ns, ns))


def _header(name: bytes, mode: int, size: int, mtime: int, kind: bytes, link: bytes = b"") -> bytes:
    records = b""
    if len(name) > 100 or len(link) > 100:
        body = b"".join(
            b"%d %s=%s\n" % (len(key) + len(value) + 3 + len(str(len(key) + len(value) + 3)), key, value)
            for key, value in ((b"path", name), (b"linkpath", link))
            if value
        )
        records = _header(b"PaxHeaders/x", 0o644, len(body), mtime, b"x") + body + bytes(-len(body) % BLOCK)
        name, link = name[:100], link[:100]
    fields = b"%s%s%s%s%s%s        %s%s" % (
        name.ljust(100, b"\0"),
        b"%07o\0" % mode,
        b"0000000\0" * 2,
        b"%011o\0" % size,
        b"%011o\0" % mtime,
        b"",
        kind,
        link.ljust(100, b"\0"),
    )
    block = (fields + b"ustar\x0000").ljust(BLOCK, b"\0")
    checksum = b"%06o\0 " % sum(block)
    return records + block[:148] + checksum + block[156:]


def _deflate(block: bytes, dictionary: bytes) -> bytes:
    deflater = (
        zlib.compressobj(6, zlib.DEFLATED, -15, 9, 0, dictionary)
        if dictionary
        else zlib.compressobj(6, zlib.DEFLATED, -15)
    )
    return deflater.compress(block) + deflater.flush(zlib.Z_SYNC_FLUSH)


def pack(root: str, archive: str) -> None:
    """Write root into a .tar.gz at gzip level 6, compressing 1 MiB blocks on two threads."""
    out = open(archive, "wb")  # noqa: SIM115
    out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03")
    pool = ThreadPoolExecutor(2)
    in_flight: collections.deque[Future[bytes]] = collections.deque()
    pending: list[bytes] = []
    held = 0
    crc = size = 0
    tail = b""

    def flush() -> None:
        nonlocal held, crc, size, tail
        block = b"".join(pending)
        pending.clear()
        held = 0
        crc, size = zlib.crc32(block, crc), size + len(block)
        in_flight.append(pool.submit(_deflate, block, tail))
        tail = block[-32768:]
        while len(in_flight) > 4:
            out.write(in_flight.popleft().result())

    def put(data: bytes) -> None:
        nonlocal held
        pending.append(data)
        held += len(data)
        if held >= CHUNK:
            flush()

    folders = [(root, b".")]
    while folders:
        folder, relative = folders.pop()
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
        for entry in entries:
            name = relative + b"/" + os.fsencode(entry.name)
            info = entry.stat(follow_symlinks=False)
            if entry.is_symlink():
                put(_header(name, 0o777, 0, int(info.st_mtime), b"2", os.fsencode(os.readlink(entry.path))))
            elif entry.is_dir(follow_symlinks=False):
                put(_header(name + b"/", info.st_mode & 0o7777, 0, int(info.st_mtime), b"5"))
                folders.append((entry.path, name))
            else:
                with open(entry.path, "rb", buffering=0) as reader:
                    data = reader.read()
                put(_header(name, info.st_mode & 0o7777, len(data), int(info.st_mtime), b"0"))
                put(data + bytes(-len(data) % BLOCK))
    put(bytes(2 * BLOCK))
    flush()
    while in_flight:
        out.write(in_flight.popleft().result())
    out.write(b"\x03\x00" + struct.pack("<II", crc, size & 0xFFFFFFFF))
    out.close()
    pool.shutdown()


if __name__ == "__main__":
    commands = {"unpack": unpack, "pack": pack}
    if len(sys.argv) != 4 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](sys.argv[2], sys.argv[3])
