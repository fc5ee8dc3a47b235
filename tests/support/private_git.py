"""Private git hosts on 127.0.0.1 for credential tests, from Debian's own packages: nginx with
TLS (a self-signed certificate made here) and HTTP basic authentication in front of
``git http-backend`` run by ``fcgiwrap``, and an ``sshd`` serving repositories over SSH to the
keys in its authorized-keys file. Each is started on a free port and stopped by the test."""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import ipaddress
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from tests.support.services import free_port, wait_for_port


def self_signed_certificate(directory: Path, prefix: str = "") -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost and its key (PEM files, names starting with
    ``prefix``); the certificate is its own CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "scanpulse test git host")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{prefix}cert.pem", directory / f"{prefix}key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class AuthenticatingGitHost:
    """nginx + fcgiwrap + ``git http-backend``, over TLS, every request behind basic
    authentication for ``username``/``password``. ``rate`` slows responses down (nginx's
    ``limit_rate``, bytes per second; 0 for none). Requests are logged in ``access.log``."""

    def __init__(
        self, workdir: Path, project_root: Path, username: str, password: str, rate: int = 0
    ) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.cert, key = self_signed_certificate(workdir)
        digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()  # noqa: S324
        (workdir / "htpasswd").write_text(f"{username}:{{SHA}}{digest}\n")
        socket_path = workdir / "fcgiwrap.sock"
        self.config = workdir / "nginx.conf"
        self.config.write_text(
            f"""
daemon off;
user root;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {workdir}/access.log;
    client_body_temp_path {workdir}/body;
    fastcgi_temp_path {workdir}/fastcgi;
    proxy_temp_path {workdir}/proxy;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    server {{
        listen 127.0.0.1:{self.port} ssl;
        ssl_certificate {self.cert};
        ssl_certificate_key {key};
        location / {{
            auth_basic "private repositories";
            auth_basic_user_file {workdir}/htpasswd;
            limit_rate {rate};
            client_max_body_size 0;
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME /usr/lib/git-core/git-http-backend;
            fastcgi_param GIT_PROJECT_ROOT {project_root};
            fastcgi_param GIT_HTTP_EXPORT_ALL "";
            fastcgi_param PATH_INFO $uri;
            fastcgi_param REMOTE_USER $remote_user;
            fastcgi_pass unix:{socket_path};
        }}
    }}
}}
"""
        )
        self.socket_path = socket_path
        self.processes: list[subprocess.Popen[bytes]] = []

    def url(self, name: str) -> str:
        return f"https://127.0.0.1:{self.port}/{name}"

    @property
    def access_log(self) -> str:
        path = self.workdir / "access.log"
        return path.read_text() if path.exists() else ""

    def __enter__(self) -> AuthenticatingGitHost:
        # In a session of its own: its forked children go with it (``__exit__``).
        fcgiwrap = subprocess.Popen(
            ["/usr/sbin/fcgiwrap", "-c", "2", "-s", f"unix:{self.socket_path}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.fcgiwrap = fcgiwrap
        self.processes.append(fcgiwrap)
        deadline = time.monotonic() + 10
        while not self.socket_path.exists():
            if time.monotonic() > deadline:
                raise TimeoutError("fcgiwrap did not start")
            time.sleep(0.02)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.processes.append(
            subprocess.Popen(
                [nginx, "-p", str(self.workdir), "-c", str(self.config)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_for_port(self.port)
        return self

    def __exit__(self, *exc: object) -> None:
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process is self.fcgiwrap:  # the children it forked outlive it otherwise
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
        self.processes.clear()


def _host_key(path: Path) -> str:
    """A new Ed25519 host key at ``path``; its public key (``ssh-ed25519 <base64>``)."""
    key = ed25519.Ed25519PrivateKey.generate()
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )


class SshGitHost:
    """Debian's ``sshd`` on 127.0.0.1, its own Ed25519 host key, letting in (as the current
    user) only the public keys in ``authorized_keys``; git runs over it as usual."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.authorized_keys = workdir / "authorized_keys"
        self.authorized_keys.write_text("")
        self.host_key_path = workdir / "host_key"
        self.host_public_key = _host_key(self.host_key_path)
        self.config = workdir / "sshd_config"
        self.config.write_text(
            f"""Port {self.port}
ListenAddress 127.0.0.1
HostKey {self.host_key_path}
PidFile {workdir}/sshd.pid
AuthorizedKeysFile {self.authorized_keys}
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
AllowTcpForwarding no
X11Forwarding no
LogLevel VERBOSE
"""
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.user = os.environ.get("USER") or "root"

    def authorize(self, public_key: str) -> None:
        with self.authorized_keys.open("a") as handle:
            handle.write(f"restrict {public_key}\n")

    def url(self, path: Path) -> str:
        return f"ssh://root@127.0.0.1:{self.port}{path}"

    def new_host_key(self) -> None:
        """Restart with another host key (a changed, or impersonated, host)."""
        self.stop()
        self.host_key_path.unlink()
        self.host_public_key = _host_key(self.host_key_path)
        self.start()

    def start(self) -> None:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self.process = subprocess.Popen(
            ["/usr/sbin/sshd", "-D", "-e", "-f", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=(self.workdir / "sshd.log").open("ab"),
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def __enter__(self) -> SshGitHost:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
