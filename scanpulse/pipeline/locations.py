"""Where a repository may be fetched from: which hosts a worker may connect to, and which
local directories an organization may scan.

Both are checked when a project is saved (``scanpulse.projects.validation``) and again by the
worker right before it fetches (``scanpulse.pipeline.source``): what a name resolves to and
what a path points at can change in between. The worker then connects to the very addresses
it checked, so a name that resolves differently a moment later (DNS rebinding) changes
nothing. No Django here: the pipeline runs without it.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# One message for every refused host and every host that could not be reached, when a project
# is saved and when it is fetched: which addresses are internal, and which of their ports are
# open, must not be learnable through the error text.
HOST_REFUSED = "The repository's host could not be reached or is not allowed on this server."

DEFAULT_PORTS = {"https": 443, "http": 80, "ssh": 22, "git": 9418}

# Cloud metadata services hand out credentials: refused whatever the allow-list says.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, Google Cloud, Azure, OpenStack, DigitalOcean, ...
        "169.254.170.2",  # AWS ECS task credentials
        "169.254.170.23",  # AWS EKS pod identity
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "fd00:ec2::254",  # AWS over IPv6
        "fd00:ec2::23",  # AWS EKS pod identity over IPv6
    )
)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
# ASCII names only: a name the resolver here and git's own (curl's IDN conversion, a trailing
# dot) could read differently would escape the pinning of the checked address.
_HOST_NAME = re.compile(r"^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$")
# What git itself takes for ``[user@]host:path`` (a colon before any slash), brackets included.
_SCP_LIKE = re.compile(r"^(?:[^@/:]*@)?(?P<host>\[[^\]/]*\]|[^:/\[\]@]*):")


class LocationRefused(ValueError):
    """The location may not be fetched; ``str()`` is a user-facing message."""


@dataclass(frozen=True, slots=True)
class Remote:
    scheme: str
    host: str  # lower case; an IPv6 address without its brackets
    port: int


def remote_of(location: str) -> Remote | None:
    """The host and port a location connects to; ``None`` for a local path.

    Raises ``LocationRefused`` for a host that is not a plain ASCII name or an address.
    """
    if location.startswith(("/", "file:")):
        return None
    if "://" in location:
        parts = urlsplit(location)
        host = parts.hostname or ""
        try:
            port = parts.port
        except ValueError as exc:
            raise LocationRefused("Invalid host or port.") from exc
        scheme = parts.scheme.lower()
        if "[" in parts.netloc:
            _ip_literal(host)  # brackets hold an IPv6 address, nothing else
        port = port or DEFAULT_PORTS.get(scheme, 0)
    else:
        scp = _SCP_LIKE.match(location)
        if scp is None:
            return None
        scheme, host, port = "ssh", scp.group("host").lower(), DEFAULT_PORTS["ssh"]
        if host.startswith("["):
            host = host[1:-1]
            _ip_literal(host)
    if not host or host.startswith("-") or not (_HOST_NAME.match(host) or _is_ip(host)):
        raise LocationRefused("Invalid host or port.")
    return Remote(scheme, host, port)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _ip_literal(host: str) -> Address:
    try:
        return ipaddress.ip_address(host)
    except ValueError as exc:
        raise LocationRefused("Invalid host or port.") from exc


def literal_address(host: str) -> Address | None:
    """The address a host names without any lookup, in every spelling resolvers accept:
    ``127.0.0.1``, ``::1``, and the BSD forms ``0x7f000001``, ``2130706433``,
    ``017700000001``, ``0177.0.0.1``, ``127.1``."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, UnicodeError, ValueError):
        return None


def embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, 6to4, NAT64)."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _IPV4_COMPATIBLE or any(address in network for network in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_metadata(address: Address) -> bool:
    return address in METADATA_ADDRESSES or embedded_ipv4(address) in METADATA_ADDRESSES


def is_public(address: Address) -> bool:
    """A globally reachable unicast address: not loopback, private, unique-local, link-local,
    shared (CGNAT), multicast, unspecified, reserved or documentation, not IPv4-mapped, and
    not an IPv6 address standing for an IPv4 address that is any of these."""
    if is_metadata(address):
        return False
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None or address in _IPV4_COMPATIBLE or address.scope_id:
            return False
        inner = embedded_ipv4(address)
        if inner is not None and not is_public(inner):
            return False
        if address.is_site_local:
            return False
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
    )


@dataclass(frozen=True, slots=True)
class NetworkPolicy:
    """Which hosts a worker may fetch from: public addresses, and what the operator allows
    (``SCANPULSE_GIT_ALLOWED_NETWORKS``: networks in CIDR notation and host names)."""

    networks: tuple[Network, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> NetworkPolicy:
        """Raises ``ValueError`` naming an entry that is neither a network nor a host name."""
        networks: list[Network] = []
        hosts: set[str] = set()
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if entry.startswith("-") or not _HOST_NAME.match(entry):
                    raise ValueError(
                        f"{entry!r} is neither a network (CIDR) nor a host name"
                    ) from None
                hosts.add(entry.lower())
        return cls(tuple(networks), frozenset(hosts))

    def allows(self, address: Address) -> bool:
        inner = embedded_ipv4(address)
        if is_metadata(address):
            return False
        if any(
            address in network or (inner is not None and inner in network)
            for network in self.networks
        ):
            return True
        return is_public(address)

    def check(self, remote: Remote, *, unresolved_ok: bool = False) -> tuple[Address, ...]:
        """The addresses to connect to, every one of them allowed.

        Raises ``LocationRefused`` with ``HOST_REFUSED`` when one is refused, or when the name
        does not resolve (unless ``unresolved_ok``: a web node may not see the workers' DNS,
        and the worker checks again anyway; the empty tuple is returned then).
        """
        literal = literal_address(remote.host)
        if literal is not None:
            addresses: tuple[Address, ...] = (literal,)
        else:
            try:
                addresses = resolve(remote.host, remote.port)
            except LocationRefused:
                if unresolved_ok:
                    return ()
                raise
            if remote.host in self.hosts and not any(map(is_metadata, addresses)):
                return addresses  # the operator vouches for this name
        if not all(self.allows(address) for address in addresses):
            raise LocationRefused(HOST_REFUSED)
        return addresses


def resolve(host: str, port: int) -> tuple[Address, ...]:
    """Every address the system resolver gives for ``host``, in its order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise LocationRefused(HOST_REFUSED) from exc
    addresses: dict[Address, None] = {}
    for *_, sockaddr in infos:
        try:
            addresses[ipaddress.ip_address(str(sockaddr[0]))] = None
        except ValueError:
            continue
    if not addresses:
        raise LocationRefused(HOST_REFUSED)
    return tuple(addresses)


# -- local directories ------------------------------------------------------------------------


def local_path_of(location: str) -> str | None:
    """The path of a local location (an absolute path or a ``file:`` URL), else ``None``."""
    if location.startswith("file:"):
        return urlsplit(location).path
    if location.startswith("/"):
        return location
    return None


@dataclass(frozen=True, slots=True)
class LocalPolicy:
    """Which local directories one organization may scan.

    A path is resolved (symbolic links, ``..``) and must then lie under one of ``roots``. It
    is refused when it lies in, or contains, one of ``protected`` (the work directory, the
    installation, other organizations' roots), and when it contains ``data_dir`` or lies in
    it other than under a root that is itself inside it (``<data dir>/repositories/{org}``).
    """

    roots: tuple[Path, ...]
    protected: tuple[Path, ...] = ()
    data_dir: Path | None = None

    @classmethod
    def build(
        cls,
        roots: Iterable[str | Path],
        protected: Iterable[str | Path] = (),
        data_dir: Path | None = None,
    ) -> LocalPolicy:
        return cls(
            roots=tuple(_real(root) for root in roots),
            protected=tuple(_real(path) for path in protected),
            data_dir=_real(data_dir) if data_dir is not None else None,
        )

    def refusal(self) -> str:
        if not self.roots:
            return "This server allows no local repositories for your organization."
        where = ", ".join(str(root) for root in self.roots)
        return f"Local repositories of your organization must lie under {where}."

    def check(self, path: str) -> Path:
        """The resolved path, to fetch from instead of ``path``; ``LocationRefused`` if it
        is not allowed (one message whatever the reason, naming the allowed roots)."""
        real = _real(path)
        root = next((root for root in self.roots if real.is_relative_to(root)), None)
        if root is None or any(
            real.is_relative_to(protected) or protected.is_relative_to(real)
            for protected in self.protected
        ):
            raise LocationRefused(self.refusal())
        data = self.data_dir
        if data is not None and (
            data.is_relative_to(real)
            or (real.is_relative_to(data) and (root == data or not root.is_relative_to(data)))
        ):
            raise LocationRefused(self.refusal())
        return real


def _real(path: str | Path) -> Path:
    return Path(os.path.realpath(os.path.abspath(path)))
