"""Real FTP servers on 127.0.0.1 for tests: pyftpdlib (plain, TLS), vsftpd and ProFTPD, as child processes."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from dirkit.backends.ftp import FtpBackend
from dirkit.backends.ftp_session import TlsOptions

USER = "alice"
PASSWORD = "pw-9f3c1e-not-in-any-output"
"""The pyftpdlib user's password; tests grep every output for it."""
START_TIMEOUT_S = 15.0

PYFTPDLIB_SERVER = """
import sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
from pyftpdlib.servers import FTPServer

home, user, password, cert, refused = sys.argv[1:6]
authorizer = DummyAuthorizer()
authorizer.add_user(user, password, home, perm="elradfmwMT")
handler = TLS_FTPHandler if cert else FTPHandler
handler.authorizer = authorizer
handler.auth_failed_timeout = 0
handler.proto_cmds = {name: spec for name, spec in handler.proto_cmds.items() if name not in refused.split()}
if cert:
    handler.certfile = cert
    handler.tls_control_required = True
    handler.tls_data_required = True
server = FTPServer(("127.0.0.1", 0), handler)
print(server.socket.getsockname()[1], flush=True)
server.serve_forever(timeout=0.2)
"""

VSFTPD_CONFIG = """\
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port={port}
background=NO
anonymous_enable=YES
local_enable=NO
write_enable=YES
anon_root={root}
no_anon_password=YES
anon_upload_enable=YES
anon_mkdir_write_enable=YES
anon_other_write_enable=YES
anon_umask=022
anon_world_readable_only=NO
seccomp_sandbox=NO
secure_chroot_dir={empty}
pasv_enable=YES
pasv_address=127.0.0.1
pasv_min_port={pasv}
pasv_max_port={pasv_end}
use_localtime=NO
xferlog_enable=NO
max_per_ip=0
max_clients=0
"""
VSFTPD_TLS_CONFIG = """\
ssl_enable=YES
rsa_cert_file={cert}
rsa_private_key_file={key}
allow_anon_ssl=YES
force_anon_logins_ssl=YES
force_anon_data_ssl=YES
require_ssl_reuse=YES
"""
"""vsftpd's defaults refuse data connections that do not resume the control connection's TLS session."""


PROFTPD_ROOT = Path(os.environ.get("DIRKIT_PROFTPD_ROOT", "/opt/proftpd"))
"""Where .ci/run unpacks Debian's proftpd-core (it conflicts with vsftpd, so it is not installed)."""
PROFTPD_CONFIG = """\
ServerType standalone
ServerName "dirkit test"
Port {port}
DefaultAddress 127.0.0.1
SocketBindTight on
UseIPv6 off
User nobody
Group nogroup
PidFile {base}/proftpd.pid
ScoreboardFile {base}/proftpd.scoreboard
DelayTable none
WtmpLog off
TransferLog none
SystemLog {base}/proftpd.log
AuthPAM off
AuthOrder mod_auth_file.c mod_auth_unix.c
AuthUserFile {base}/passwd
AuthGroupFile {base}/group
RequireValidShell off
UseFtpUsers off
UseReverseDNS off
PassivePorts {pasv} {pasv_end}
DefaultRoot ~
MaxInstances 40
"""
"""ProFTPD as Debian builds it, with its defaults kept: AllowOverwrite off, so RNTO and STOR never replace."""
NOBODY = 65534


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    """Wait until something accepts on port (bounded), or fail if the process died."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the FTP server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"no FTP server on port {port} after {START_TIMEOUT_S} s")


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """Write a self-signed certificate for 127.0.0.1 and its key into folder; return (cert, key)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@dataclass
class RunningServer:
    """A server child process, the folder it serves, and how to reach a tree below it."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    home: Path
    scheme: str = "ftp"
    user: str = USER
    cert: Path | None = None
    made: int = field(default=0)

    def new_tree(self) -> tuple[str, Path]:
        """Make an empty folder on the server; return its URL and its local path."""
        self.made += 1
        folder = self.home / f"tree{self.made}"
        folder.mkdir()
        if self.name.startswith("vsftpd"):
            os.chown(folder, _ftp_uid(), -1)
        if self.name.startswith("proftpd"):
            os.chown(folder, NOBODY, NOBODY)
        return f"{self.scheme}://{self.user}@127.0.0.1:{self.port}/{folder.name}", folder

    def stop(self) -> None:
        """Stop the server and wait for it (bounded)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


def _ftp_uid() -> int:
    """Return the uid vsftpd's anonymous user writes as."""
    import pwd

    return pwd.getpwnam("ftp").pw_uid


def start_pyftpdlib(home: Path, tls: bool, refused: str = "") -> RunningServer:
    """Start pyftpdlib serving home to alice (with TLS required when tls), refusing the refused commands."""
    cert = make_certificate(home.parent)[0] if tls else None
    combined = None
    if cert is not None:
        combined = home.parent / "combined.pem"
        combined.write_bytes(cert.read_bytes() + (home.parent / "key.pem").read_bytes())
    process = subprocess.Popen(
        [sys.executable, "-c", PYFTPDLIB_SERVER, str(home), USER, PASSWORD, str(combined or ""), refused],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.strip().isdigit():
        process.kill()
        process.wait(timeout=10)
        raise RuntimeError("pyftpdlib did not start")
    port = int(line)
    wait_for_port(port, process)
    return RunningServer(
        "pyftpdlib-tls" if tls else "pyftpdlib", process, port, home, "ftps" if tls else "ftp", cert=cert
    )


def start_vsftpd(binary: str, base: Path, tls: bool, implicit: bool = False) -> RunningServer:
    """Start vsftpd from a config of its own: anonymous, writable folders below its root; TLS if tls."""
    root, empty = base / "root", base / "empty"
    root.mkdir()
    empty.mkdir()
    port = free_port()
    pasv = random.randrange(40000, 60000, 100)
    config = base / "vsftpd.conf"
    text = VSFTPD_CONFIG.format(port=port, root=root, empty=empty, pasv=pasv, pasv_end=pasv + 99)
    cert = None
    if tls:
        cert, key = make_certificate(base)
        text += VSFTPD_TLS_CONFIG.format(cert=cert, key=key)
        text += "implicit_ssl=YES\n" if implicit else ""
    config.write_text(text)
    process = subprocess.Popen([binary, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, process)
    name, scheme = ("vsftpd-tls", "ftps") if tls else ("vsftpd", "ftp")
    name += "-implicit" if implicit else ""
    return RunningServer(name, process, port, root, scheme, user="anonymous", cert=cert)


def proftpd_binary() -> str:
    """Return the unpacked proftpd, or skip (fail when DIRKIT_REQUIRE_TOOLS=1) if it is not there."""
    binary = PROFTPD_ROOT / "usr" / "sbin" / "proftpd"
    if binary.is_file():
        return str(binary)
    import pytest

    if os.environ.get("DIRKIT_REQUIRE_TOOLS") == "1":
        pytest.fail(f"proftpd is required (DIRKIT_REQUIRE_TOOLS=1) but {binary} is missing")
    pytest.skip(f"proftpd not unpacked at {PROFTPD_ROOT}")


def start_proftpd(binary: str, base: Path) -> RunningServer:
    """Start ProFTPD from a config of its own: alice (password PASSWORD) logs in chrooted to its root."""
    root = base / "root"
    root.mkdir()
    os.chown(root, NOBODY, NOBODY)
    hashed = subprocess.run(
        ["openssl", "passwd", "-6", "-stdin"], input=PASSWORD, capture_output=True, text=True, check=True
    ).stdout.strip()
    (base / "passwd").write_text(f"{USER}:{hashed}:{NOBODY}:{NOBODY}::{root}:/bin/sh\n")
    (base / "group").write_text(f"nogroup:x:{NOBODY}:\n")
    for name in ("passwd", "group"):
        (base / name).chmod(0o600)
    port = free_port()
    pasv = random.randrange(40000, 60000, 100)
    config = base / "proftpd.conf"
    config.write_text(PROFTPD_CONFIG.format(port=port, base=base, pasv=pasv, pasv_end=pasv + 99))
    libraries = PROFTPD_ROOT / "usr" / "lib" / "x86_64-linux-gnu"
    environment = {**os.environ, "LD_LIBRARY_PATH": str(libraries)}
    process = subprocess.Popen(
        [binary, "-n", "-q", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=environment,
    )
    wait_for_port(port, process)
    return RunningServer("proftpd", process, port, root)


def server_base(prefix: str) -> Path:
    """Return a fresh folder that the server's users can reach (vsftpd's anonymous user included)."""
    base = Path(tempfile.mkdtemp(prefix=prefix))
    base.chmod(0o755)
    return base


def remove_base(base: Path) -> None:
    """Remove a server's folder."""
    shutil.rmtree(base, ignore_errors=True)


RUNNING: dict[str, RunningServer] = {}
"""The servers started so far in this test session, by name; stopped by stop_all."""
BASES: list[Path] = []


def server(name: str) -> RunningServer:
    """Return the running server of that name, starting it once.

    The names: pyftpdlib, pyftpdlib-tls, vsftpd, vsftpd-tls, vsftpd-tls-implicit, proftpd.
    """
    if name not in RUNNING:
        from tests.support import require_tool

        base = server_base(f"dirkit-{name}-")
        BASES.append(base)
        if name.startswith("vsftpd"):
            tls, implicit = "-tls" in name, name.endswith("-implicit")
            RUNNING[name] = start_vsftpd(require_tool("vsftpd"), base, tls, implicit)
        elif name == "proftpd":
            RUNNING[name] = start_proftpd(proftpd_binary(), base)
        else:
            home = base / "home"
            home.mkdir()
            RUNNING[name] = start_pyftpdlib(home, tls=name.endswith("-tls"))
    return RUNNING[name]


def processes_serving(base: Path) -> list[int]:
    """Return the pids of processes whose command line names a path below base (servers' children too)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if bytes(base) in command:
            found.append(int(entry.name))
    return found


def stop_all() -> list[str]:
    """Stop every server started; return the names of any that would not stop (or left children)."""
    leaked = []
    for name, running in RUNNING.items():
        running.stop()
        base = running.home.parent
        deadline = time.monotonic() + 10
        while processes_serving(base) and time.monotonic() < deadline:
            time.sleep(0.05)
        if running.process.poll() is None or processes_serving(base):
            leaked.append(name)
    RUNNING.clear()
    for base in BASES:
        remove_base(base)
    BASES.clear()
    return leaked


def open_backend(name: str, connections: int = 2) -> tuple[FtpBackend, Path]:
    """Return an FTP backend on a new empty folder of the named server, and that folder's local path."""
    from dirkit.backends.urls import ANONYMOUS_PASSWORD, Login, parse_remote_url

    running = server(name)
    url, folder = running.new_tree()
    password = ANONYMOUS_PASSWORD if running.user == "anonymous" else PASSWORD
    implicit = name.endswith("-implicit")
    tls = TlsOptions(ca_file=str(running.cert), implicit=implicit) if running.cert else None
    backend = FtpBackend(
        parse_remote_url(url), Login(running.user, password), tls=tls, connections=connections
    )
    return backend, folder
