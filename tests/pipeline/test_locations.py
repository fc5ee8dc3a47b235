"""Where a fetch may go: internal hosts are refused in every spelling, before any connection,
with one message; git connects only to the addresses that were checked and follows no
redirect; local paths are resolved and checked again at fetch time. Real git, real servers
on 127.0.0.1; only name resolution is simulated, where a test needs a name to resolve."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import pytest

from scanpulse.pipeline.locations import (
    LocalPolicy,
    LocationRefused,
    NetworkPolicy,
    Remote,
    is_public,
    literal_address,
)
from scanpulse.pipeline.source import FetchError, FetchLimits, fetch
from tests.support.git_http import (
    HOST_REFUSED,
    Listener,
    closed_port,
    git_http_server,
    redirecting_server,
)
from tests.support.repos import GitRepo

LOOPBACK_ALLOWED = NetworkPolicy.parse(["127.0.0.1/32"])
HTTP_TOO = ("https", "ssh", "http")


@pytest.fixture
def origin(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "served" / "origin.git")
    repo.write("app.py", "print('hello')\n")
    repo.commit("one")
    return repo


def resolve_git_test_to(monkeypatch: pytest.MonkeyPatch, address: str) -> None:
    """The name ``git.test`` (which no real resolver knows) resolves to ``address`` here, as
    an attacker's DNS would answer; git's own resolver still does not know it."""
    real = socket.getaddrinfo

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        return real(address if host == "git.test" else host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def git_test_resolves_to_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    resolve_git_test_to(monkeypatch, "127.0.0.1")


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("127.255.255.254", False),
        ("0.0.0.0", False),  # noqa: S104 - an address under test, not a binding
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),  # shared address space (carrier-grade NAT)
        ("169.254.169.254", False),  # cloud metadata
        ("100.100.100.200", False),  # Alibaba Cloud metadata
        ("192.0.0.192", False),  # Oracle Cloud metadata
        ("224.0.0.1", False),
        ("239.255.255.250", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("198.18.0.1", False),
        ("::1", False),
        ("::", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:93.184.216.34", False),  # every IPv4-mapped address
        ("::127.0.0.1", False),  # IPv4-compatible
        ("fd00::1", False),
        ("fd00:ec2::254", False),
        ("fe80::1", False),
        ("fec0::1", False),
        ("ff02::1", False),
        ("ff0e::1", False),
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("2002:a00:1::", False),  # 6to4 of 10.0.0.1
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("2001:db8::1", False),
    ],
)
def test_only_globally_reachable_unicast_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public
    assert NetworkPolicy().allows(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize(
    "spelling", ["0x7f000001", "2130706433", "017700000001", "0177.0.0.1", "127.1", "0x7f.1"]
)
def test_numeric_spellings_are_read_as_resolvers_read_them(spelling: str) -> None:
    assert literal_address(spelling) == ipaddress.ip_address("127.0.0.1")
    assert socket.getaddrinfo(spelling, 443)[0][4][0] == "127.0.0.1"


def test_the_allow_list_opens_networks_and_names_but_never_metadata() -> None:
    policy = NetworkPolicy.parse(["10.0.0.0/8", "0.0.0.0/0", "::/0", "Git.Internal"])
    assert policy.allows(ipaddress.ip_address("10.1.2.3"))
    assert policy.allows(ipaddress.ip_address("127.0.0.1"))
    assert "git.internal" in policy.hosts
    for metadata in ("169.254.169.254", "::ffff:169.254.169.254", "fd00:ec2::254"):
        assert not policy.allows(ipaddress.ip_address(metadata))
    with pytest.raises(ValueError, match="neither a network"):
        NetworkPolicy.parse(["10.0.0.0/8", "not a host!"])


def test_an_allowed_name_that_resolves_to_metadata_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resolve_git_test_to(monkeypatch, "169.254.169.254")
    with pytest.raises(LocationRefused, match="not allowed"):
        NetworkPolicy.parse(["git.test"]).check(Remote("https", "git.test", 443))


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "0x7f000001",
        "2130706433",
        "017700000001",
        "0177.0.0.1",
        "127.1",
        "localhost",
        "[::ffff:127.0.0.1]",
        "[::1]",
        "169.254.169.254",
    ],
)
@pytest.mark.parametrize("scheme", ["https", "ssh"])
def test_internal_hosts_are_refused_before_any_connection(
    tmp_path: Path, host: str, scheme: str
) -> None:
    with Listener() as listener:
        url = f"{scheme}://{'git@' if scheme == 'ssh' else ''}{host}:{listener.port}/r.git"
        with pytest.raises(FetchError) as refused:
            fetch(url, "main", tmp_path / "dest", limits=FetchLimits(timeout_seconds=30))
    assert str(refused.value) == HOST_REFUSED
    assert listener.connections == 0


def test_open_and_closed_ports_of_a_refused_host_look_the_same(tmp_path: Path) -> None:
    messages = set()
    with Listener() as listener:
        for scheme in ("https", "ssh"):
            for port in (listener.port, closed_port()):
                with pytest.raises(FetchError) as failed:
                    fetch(
                        f"{scheme}://127.0.0.1:{port}/r.git",
                        "main",
                        tmp_path / f"{scheme}{port}",
                        limits=FetchLimits(timeout_seconds=30),
                    )
                messages.add(str(failed.value))
    assert messages == {HOST_REFUSED}
    assert listener.connections == 0


def test_on_allowed_hosts_too_open_and_closed_ports_give_one_message(tmp_path: Path) -> None:
    """An allowed host's port that answers something other than git fails like a closed one."""
    limits = FetchLimits(timeout_seconds=30, network=LOOPBACK_ALLOWED)
    messages = set()
    with Listener() as listener:
        for scheme in ("https", "ssh"):
            for port in (listener.port, closed_port()):
                with pytest.raises(FetchError) as failed:
                    fetch(
                        f"{scheme}://{'git@' if scheme == 'ssh' else ''}127.0.0.1:{port}/r.git",
                        "main",
                        tmp_path / f"{scheme}{port}",
                        limits=limits,
                    )
                messages.add(str(failed.value))
    assert listener.connections >= 2, "the allowed host was contacted"
    assert messages == {HOST_REFUSED}


def test_git_connects_to_the_address_that_was_checked(
    origin: GitRepo, tmp_path: Path, git_test_resolves_to_loopback: None
) -> None:
    """git itself cannot resolve ``git.test``: the fetch works only because git is pinned to
    the address the check resolved and allowed."""
    limits = FetchLimits(timeout_seconds=60, protocols=HTTP_TOO, network=LOOPBACK_ALLOWED)
    with git_http_server(origin.path.parent) as server:
        checkout = fetch(
            f"http://git.test:{server.port}/origin.git", "main", tmp_path / "dest", limits=limits
        )
    assert checkout.commit_sha == origin.git("rev-parse", "HEAD")
    assert (tmp_path / "dest" / "app.py").read_text() == "print('hello')\n"


def test_a_name_that_resolves_to_loopback_at_fetch_time_is_refused(
    origin: GitRepo, tmp_path: Path, git_test_resolves_to_loopback: None
) -> None:
    """The project was saved while the name resolved elsewhere; now it points at loopback."""
    limits = FetchLimits(timeout_seconds=60, protocols=HTTP_TOO)
    with git_http_server(origin.path.parent) as server:
        with pytest.raises(FetchError) as refused:
            fetch(
                f"http://git.test:{server.port}/origin.git", "main", tmp_path / "d", limits=limits
            )
        assert server.requests == []
    assert str(refused.value) == HOST_REFUSED


def test_ssh_connects_to_the_address_that_was_checked(
    tmp_path: Path, git_test_resolves_to_loopback: None
) -> None:
    limits = FetchLimits(timeout_seconds=30, network=LOOPBACK_ALLOWED)
    with Listener() as listener, pytest.raises(FetchError) as failed:
        fetch(f"ssh://git@git.test:{listener.port}/r.git", "main", tmp_path / "d", limits=limits)
    assert listener.connections >= 1, "ssh went to the checked address, not its own lookup"
    assert str(failed.value) == HOST_REFUSED  # no git behind it: as unreachable as can be


def test_git_protocol_names_are_refused_since_nothing_pins_their_address(tmp_path: Path) -> None:
    """git:// resolves the name again itself: an allowed name could be rebound after the check.
    Addresses are still fetched that way when an operator enables the transport."""
    limits = FetchLimits(
        timeout_seconds=30, protocols=("https", "ssh", "git"), network=LOOPBACK_ALLOWED
    )
    with Listener() as listener:
        with pytest.raises(FetchError) as by_name:
            fetch(f"git://localhost:{listener.port}/r.git", "main", tmp_path / "a", limits=limits)
        assert listener.connections == 0
        with pytest.raises(FetchError):
            fetch(f"git://127.0.0.1:{listener.port}/r.git", "main", tmp_path / "b", limits=limits)
        assert listener.connections >= 1
    assert str(by_name.value) == HOST_REFUSED


def test_a_redirect_to_a_refused_host_is_not_followed(origin: GitRepo, tmp_path: Path) -> None:
    """127.0.0.1 is allowed and redirects to 127.0.0.2, which is not (and serves the repository:
    following the redirect would fetch it)."""
    limits = FetchLimits(timeout_seconds=60, protocols=HTTP_TOO, network=LOOPBACK_ALLOWED)
    with (
        git_http_server(origin.path.parent, "127.0.0.2") as refused,
        redirecting_server(f"http://127.0.0.2:{refused.port}") as allowed,
    ):
        # the refused host does serve the repository
        git_http_refused = fetch(
            f"http://127.0.0.2:{refused.port}/origin.git",
            "main",
            tmp_path / "direct",
            limits=FetchLimits(
                timeout_seconds=60, protocols=HTTP_TOO, network=NetworkPolicy.parse(["127.0.0.0/8"])
            ),
        )
        assert git_http_refused.commit_sha == origin.git("rev-parse", "HEAD")
        served_directly = len(refused.requests)

        with pytest.raises(FetchError) as failed:
            fetch(
                f"http://127.0.0.1:{allowed.port}/origin.git", "main", tmp_path / "d", limits=limits
            )
        assert allowed.requests, "the allowed host was asked"
        assert len(refused.requests) == served_directly, "the redirect was not followed"
    assert "redirect" in str(failed.value)
    assert "127.0.0.2" not in str(failed.value)


def test_local_paths_are_resolved_and_checked_again_when_fetched(tmp_path: Path) -> None:
    mine, theirs = tmp_path / "roots" / "mine", tmp_path / "roots" / "theirs"
    GitRepo(mine / "app").commit("mine")
    GitRepo(theirs / "secret").commit("theirs")
    (mine / "link").symlink_to(theirs / "secret")
    policy = LocalPolicy.build([mine], protected=[theirs])
    limits = FetchLimits(timeout_seconds=30, allow_local=True, local=policy)

    assert fetch(str(mine / "app"), "main", tmp_path / "ok", limits=limits).commit_sha
    for location in (
        str(mine / "link"),
        (mine / "link").as_uri(),
        f"{mine}/../theirs/secret",
        str(theirs / "secret"),
        str(tmp_path),
    ):
        with pytest.raises(FetchError) as refused:
            fetch(location, "main", tmp_path / "refused", limits=limits)
        assert (
            str(refused.value) == f"Local repositories of your organization must lie under {mine}."
        )
        assert not (tmp_path / "refused").exists()
