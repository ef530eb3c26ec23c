"""A real OpenSSH sshd on 127.0.0.1 for tests: its own host key, config and authorized key."""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from dirkit.backends.sftp import SftpBackend
from dirkit.backends.urls import parse_remote_url
from tests.backends.ftp_servers import free_port, wait_for_port

SSHD = "/usr/sbin/sshd"
"""sshd must be started by its absolute path."""
HOST_ALIAS = "dirkit-test-host"
"""The ~/.ssh/config alias of the test server in a test HOME."""
PASSPHRASE = "pp-7d41b9-not-in-any-output"
"""The passphrase of the test's encrypted client key; tests grep every output for it."""
SSHD_CONFIG = """\
Port {port}
ListenAddress 127.0.0.1
AddressFamily inet
HostKey {base}/host_key
PidFile {base}/sshd.pid
AuthorizedKeysFile {base}/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
MaxStartups 64
MaxSessions 64
LogLevel ERROR
Subsystem sftp internal-sftp
"""


@dataclass
class RunningSshd:
    """An sshd child process, its folder, keys and port."""

    process: subprocess.Popen[bytes]
    base: Path
    port: int
    user: str
    host_key: asyncssh.SSHKey
    client_key: asyncssh.SSHKey
    made: int = field(default=0)

    def new_tree(self) -> tuple[str, Path]:
        """Make an empty folder the server can reach; return its sftp:// URL and its local path."""
        self.made += 1
        folder = self.base / "trees" / f"tree{self.made}"
        folder.mkdir(parents=True)
        return f"sftp://{self.user}@127.0.0.1:{self.port}{folder}", folder

    def known_hosts_line(self) -> str:
        """Return the known_hosts line that trusts this server."""
        public = self.host_key.export_public_key().decode().split()
        return f"[127.0.0.1]:{self.port} {public[0]} {public[1]}\n"

    def make_home(
        self, home: Path, known: bool = True, passphrase: str | None = None, key_name: str = "id_ed25519"
    ) -> Path:
        """Fill home/.ssh: the client key (encrypted with passphrase, if given), a config alias, known_hosts.

        The key file is key_name: id_ed25519 is one ssh tries by itself; any other name is found only
        through the alias's IdentityFile.
        """
        ssh = home / ".ssh"
        ssh.mkdir(parents=True, mode=0o700)
        key_file = ssh / key_name
        key_file.write_bytes(
            self.client_key.export_private_key(passphrase=passphrase, rounds=4, ignore_few_rounds=True)
        )
        key_file.chmod(0o600)
        (ssh / "config").write_text(
            f"Host {HOST_ALIAS}\n    HostName 127.0.0.1\n    Port {self.port}\n    User {self.user}\n"
            f"    IdentityFile ~/.ssh/{key_name}\n"
        )
        if known:
            (ssh / "known_hosts").write_text(self.known_hosts_line())
        return home

    def sessions(self) -> list[int]:
        """Return the pids of the server's connection processes (they rename themselves 'sshd: user@...')."""
        return descendants(self.process.pid)

    def stop(self) -> bool:
        """Stop the server; return whether a connection process outlived it (a client left connected).

        A connection process ends when its client disconnects, not with the listener, so one still
        running 10 s after the stop is a connection some backend never closed; it is killed.
        """
        sessions = self.sessions()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _alive(sessions) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = _alive(sessions)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return bool(left)


def _parent_of(pid: str) -> int | None:
    """Return the parent pid of a process, from /proc (None if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1])


def descendants(root: int) -> list[int]:
    """Return the pids of every process below root."""
    parents = {
        int(entry.name): _parent_of(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()
    }
    found: list[int] = []
    wanted = {root}
    while True:
        new = [pid for pid, parent in parents.items() if parent in wanted and pid not in found]
        if not new:
            return found
        found.extend(new)
        wanted.update(new)


def _alive(pids: list[int]) -> list[int]:
    """Return the pids of the list that still run (zombies count as gone)."""
    living = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            living.append(pid)
    return living


def start_sshd(base: Path, host_key: asyncssh.SSHKey | None = None) -> RunningSshd:
    """Start sshd on a free port of 127.0.0.1 with a fresh (or the given) host key and a client key."""
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    host_key = host_key or asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    (base / "host_key").write_bytes(host_key.export_private_key())
    (base / "host_key").chmod(0o600)
    (base / "authorized_keys").write_bytes(client_key.export_public_key())
    port = free_port()
    config = base / "sshd_config"
    config.write_text(SSHD_CONFIG.format(port=port, base=base))
    checked = subprocess.run([SSHD, "-t", "-f", str(config)], capture_output=True, check=False)
    if checked.returncode != 0:
        raise RuntimeError(f"sshd refused its test config: {checked.stderr.decode(errors='replace')}")
    process = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_for_port(port, process)
    return RunningSshd(process, base, port, getpass.getuser(), host_key, client_key)


RUNNING: list[RunningSshd] = []


def open_backend(connections: int = 2) -> tuple[SftpBackend, Path]:
    """Return an SFTP backend on a new empty folder of the session's sshd, and that folder's local path.

    It reads an ssh folder of the server's own (config naming the key by its absolute path, and
    known_hosts), so tests that do not set HOME never read the real ~/.ssh.
    """
    running = sshd()
    folder = running.base / "client-ssh"
    if not folder.exists():
        folder.mkdir(mode=0o700)
        key = folder / "id_ed25519"
        key.write_bytes(running.client_key.export_private_key())
        key.chmod(0o600)
        (folder / "config").write_text(f"Host 127.0.0.1\n    IdentityFile {key}\n    IdentitiesOnly yes\n")
        (folder / "known_hosts").write_text(running.known_hosts_line())
    url, tree = running.new_tree()
    backend = SftpBackend(parse_remote_url(url), connections=connections, ssh_folder=str(folder))
    return backend, tree


def sshd() -> RunningSshd:
    """Return the test session's sshd, starting it once (needs OpenSSH's sshd installed)."""
    if not RUNNING:
        from tests.support import require_tool

        require_tool(SSHD)
        RUNNING.append(start_sshd(new_base()))
    return RUNNING[0]


def new_base() -> Path:
    """Return a fresh folder for one sshd (its config, keys, pid file and the trees it serves)."""
    base = Path(tempfile.mkdtemp(prefix="dirkit-sshd-"))
    base.chmod(0o755)
    return base


def stop_all() -> bool:
    """Stop every sshd started; return whether any process was left behind."""
    leaked = False
    for running in RUNNING:
        leaked = running.stop() or leaked
        shutil.rmtree(running.base, ignore_errors=True)
    RUNNING.clear()
    return leaked


def clean_environment() -> dict[str, str]:
    """Return os.environ without an ssh-agent, so that only the test's own keys are offered."""
    return {name: value for name, value in os.environ.items() if name != "SSH_AUTH_SOCK"}
