"""Where git may connect for a location: the location checked now (local path, host and its
addresses), and git pinned to exactly what was checked (``http.curloptResolve``, ssh's
``HostName``), so that no second lookup can lead elsewhere."""

from __future__ import annotations

import functools
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .git import SSH_COMMAND, FetchLimits
from .locations import HOST_REFUSED, LocationRefused, literal_address, local_path_of, remote_of

# ``http.curloptResolve`` (pinning HTTP(S) connections to checked addresses) needs git 2.37.
PINNING_GIT_VERSION = (2, 37)


@dataclass(frozen=True, slots=True)
class Target:
    """What git is given for a checked location: the source, and how to reach its host."""

    source: str
    resolve: str | None = None  # an ``http.curloptResolve`` entry: host:port:addresses
    ssh_address: str | None = None  # the checked address ssh connects to for the host

    def environment(self) -> dict[str, str]:
        env: dict[str, str] = {}
        if self.resolve is not None:
            env |= {
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": "http.curloptResolve",
                "GIT_CONFIG_VALUE_0": self.resolve,
            }
        if self.ssh_address is not None:
            env["GIT_SSH_COMMAND"] = f"{SSH_COMMAND} -o HostName={self.ssh_address}"
        return env


def checked_target(location: str, limits: FetchLimits) -> Target:
    """Check where ``location`` leads, now, and pin git to what was checked.

    Raises ``LocationRefused`` with a user-facing message.
    """
    path = local_path_of(location)
    if path is not None:
        if not limits.allow_local:
            return Target(location)  # git refuses the file protocol itself
        if limits.local is not None:
            path = str(limits.local.check(path))  # the resolved path: no link to follow later
        return Target(Path(path).as_uri())  # file:// makes git honour --depth
    remote = remote_of(location)
    if remote is None:
        raise LocationRefused("That repository location is not allowed.")
    addresses = limits.network.check(remote)
    if literal_address(remote.host) is not None:
        return Target(location)  # an address: nothing is looked up
    if remote.scheme in ("http", "https"):
        if _git_version() < PINNING_GIT_VERSION:
            raise LocationRefused(
                "This server's git is too old to fetch over HTTPS safely (2.37 or later)."
            )
        pinned = ",".join(f"[{a}]" if a.version == 6 else str(a) for a in addresses)
        return Target(location, resolve=f"{remote.host}:{remote.port}:{pinned}")
    if remote.scheme in _SSH_SCHEMES:
        return Target(location, ssh_address=str(addresses[0]))
    # git:// (or another transport an operator enabled) would look the name up again itself,
    # and nothing pins that answer to the checked one: only addresses are fetched that way.
    raise LocationRefused(HOST_REFUSED)


_SSH_SCHEMES = frozenset({"ssh", "git+ssh", "ssh+git"})


@functools.cache
def _git_version() -> tuple[int, int]:
    try:
        output = subprocess.run(
            ["git", "version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return (0, 0)
    found = re.search(r"(\d+)\.(\d+)", output)
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)
