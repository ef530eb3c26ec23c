"""SSH host keys checked against ~/.ssh/known_hosts, as OpenSSH does; new keys trusted only when asked."""

from __future__ import annotations

import os
from collections.abc import Mapping

import asyncssh

DEFAULT_SSH_PORT = 22


def ssh_folder(environ: Mapping[str, str]) -> str:
    """Return the user's ssh folder ($HOME/.ssh), which holds config and known_hosts."""
    home = environ.get("HOME") or os.path.expanduser("~")
    return os.path.join(home, ".ssh")


def host_pattern(host: str, port: int) -> str:
    """Return how known_hosts names a host: 'host', or '[host]:port' off the default port."""
    return host if port == DEFAULT_SSH_PORT else f"[{host}]:{port}"


def known_host_line(host: str, port: int, key_text: str) -> str:
    """Return the known_hosts line that trusts key_text ('algorithm base64 [comment]') for host."""
    algorithm, data = key_text.split()[:2]
    return f"{host_pattern(host, port)} {algorithm} {data}\n"


def lines_naming(text: str, host: str, addr: str, port: int) -> list[int]:
    """Return the numbers (from 1) of the known_hosts lines that hold a key for host (or addr) and port."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            entry = asyncssh.import_known_hosts(stripped)
        except (ValueError, asyncssh.KeyImportError):
            continue
        keys, ca_keys, *_rest = entry.match(host, addr, None if port == DEFAULT_SSH_PORT else port)
        if keys or ca_keys:
            found.append(number)
    return found


class HostKeyPolicy:
    """Trust what known_hosts holds; an unknown host only with accept_new (recorded); a changed key never.

    After a refusal, refusal holds the one-line reason for the user (no secret: keys are public).
    """

    def __init__(self, known_hosts: str, accept_new: bool) -> None:
        self.known_hosts = known_hosts
        self.accept_new = accept_new
        self.refusal: str | None = None

    def known_hosts_arg(self) -> str | bytes:
        """Return the known_hosts argument for asyncssh: the file, or nothing trusted if there is none."""
        return self.known_hosts if os.path.isfile(self.known_hosts) else b""

    def accept(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        """Tell whether to trust a key known_hosts does not hold for host; record it when accepting."""
        fingerprint = key.get_fingerprint()
        text = ""
        if os.path.isfile(self.known_hosts):
            with open(self.known_hosts, encoding="utf-8", errors="replace") as file:
                text = file.read()
        naming = lines_naming(text, host, addr, port)
        if naming:
            self.refusal = (
                f"the host key of {host_pattern(host, port)} has CHANGED (now {fingerprint}) and does not "
                f"match {self.known_hosts} line {naming[0]}; if the change is expected, remove that line "
                f"(ssh-keygen -R '{host_pattern(host, port)}')"
            )
            return False
        if not self.accept_new:
            self.refusal = (
                f"the host {host_pattern(host, port)} is not in {self.known_hosts} (its key is "
                f"{fingerprint}); check it, then rerun with --accept-new-host-key to trust and record it"
            )
            return False
        self._record(known_host_line(host, port, key.export_public_key().decode("ascii")), text)
        return True

    def _record(self, line: str, text: str) -> None:
        """Append line to known_hosts, making ~/.ssh (mode 700) if needed."""
        folder = os.path.dirname(self.known_hosts)
        os.makedirs(folder, mode=0o700, exist_ok=True)
        with open(self.known_hosts, "a", encoding="utf-8") as file:
            if text and not text.endswith("\n"):
                file.write("\n")
            file.write(line)


class HostKeyCheck(asyncssh.SSHClient):
    """The client side of a connection: asks its policy about a host key that known_hosts lacks."""

    def __init__(self, policy: HostKeyPolicy) -> None:
        self._policy = policy

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        """Tell asyncssh whether to trust key (called only for keys known_hosts does not hold)."""
        return self._policy.accept(host, addr, port, key)
