"""A real OpenID Connect provider for the tests: Node's ``oidc-provider`` from npm, installed
once into ``var/test-node`` (a lock keeps concurrent runs from installing at the same time),
run over HTTPS on 127.0.0.1 with ``oidc_provider.mjs``."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from pathlib import Path

import httpx

from tests.support.private_git import self_signed_certificate
from tests.support.services import free_port, wait_for_port

OIDC_PROVIDER_VERSION = "8.8.1"
CLIENT_ID = "scanpulse"
CLIENT_SECRET = "provider-test-client-secret"
_ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = _ROOT / "var" / "test-node"
_SCRIPT = Path(__file__).with_name("oidc_provider.mjs")


def install_provider() -> Path:
    """The directory holding ``node_modules/oidc-provider`` at the pinned version."""
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    package = NODE_DIR / "node_modules" / "oidc-provider" / "package.json"
    marker = f'"version": "{OIDC_PROVIDER_VERSION}"'
    with (NODE_DIR / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (package.exists() and marker in package.read_text()):
            npm = shutil.which("npm")
            if npm is None:
                raise RuntimeError("npm is needed for the single sign-on tests")
            subprocess.run(
                [
                    npm,
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--prefix",
                    str(NODE_DIR),
                    f"oidc-provider@{OIDC_PROVIDER_VERSION}",
                ],
                check=True,
                capture_output=True,
                timeout=300,
            )
    return NODE_DIR


class OidcProvider:
    def __init__(self, workdir: Path, certificate: tuple[Path, Path] | None = None) -> None:
        """``certificate``: another provider's (certificate, key), so that one CA bundle
        trusts both."""
        self.workdir = workdir
        self.port = free_port()
        self.cert, self.key = certificate or self_signed_certificate(workdir)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def issuer(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self, *, redirect_uri: str, post_logout_uri: str) -> OidcProvider:
        node_dir = install_provider()
        script = node_dir / "oidc_provider.mjs"  # beside node_modules, so imports resolve
        shutil.copyfile(_SCRIPT, script)
        self._log = (self.workdir / "provider.log").open("ab")
        self.process = subprocess.Popen(
            [
                "node",
                str(script),
                str(self.port),
                redirect_uri,
                post_logout_uri,
                str(self.cert),
                str(self.key),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(self.port)
        except TimeoutError:
            self.stop()
            raise
        return self

    def shift_clock(self, seconds: int) -> None:
        """Make the token endpoint issue tokens as if it were ``seconds`` earlier."""
        response = httpx.get(
            f"{self.issuer}/test/clock", params={"shift": seconds}, verify=str(self.cert)
        )
        response.raise_for_status()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
            self._log.close()
