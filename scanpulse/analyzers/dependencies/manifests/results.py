"""What a manifest parser hands back: the dependencies it found and the messages about what it
could not read, with file content quoted safely in those messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from scanpulse.advisories.osv import normalize_name
from scanpulse.advisories.versions import PYPI
from scanpulse.analyzers.redaction import mask_url_credentials

# Reads a repository-relative POSIX path for ``-r``/``-c`` includes; ``None`` if it is not a
# readable file inside the checkout.
IncludeReader = Callable[[str], bytes | None]


@dataclass(frozen=True, slots=True)
class Dependency:
    """One package a manifest asks for; ``version`` is set only when it is pinned exactly."""

    ecosystem: str
    name: str
    version: str | None
    spec: str  # the requirement as written; lock files: ``name==version`` / ``name@version``
    path: str  # the file it was found in (an included file for ``-r``/``-c`` lines)
    line: int | None
    direct: bool
    marker: str | None = None  # PEP 508 environment marker, kept as information

    def __post_init__(self) -> None:
        # The spec is quoted in findings (message, snippet, properties): never a credential.
        object.__setattr__(self, "spec", mask_url_credentials(self.spec))

    @property
    def normalized_name(self) -> str:
        return normalize_name(self.ecosystem, self.name)

    def requirement(self) -> str:
        """The normalized requirement, e.g. ``django==3.2.0``, ``requests>=2``, ``@a/b@1.0.0``."""
        if self.ecosystem != PYPI:
            return f"{self.normalized_name}@{self.version}" if self.version else self.spec
        if self.version is not None:
            return f"{self.normalized_name}=={self.version}"
        try:
            parsed = Requirement(self.spec)
        except InvalidRequirement:
            return self.spec
        return f"{canonicalize_name(parsed.name)}{parsed.specifier}"


@dataclass(slots=True)
class ManifestResult:
    dependencies: list[Dependency] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    # Why nothing of the file could be read (it is also among ``messages``).
    unread: str | None = None
    # The lock files one of which the tool that reads this manifest writes next to it: without
    # one, version ranges and the dependencies of dependencies are unknown.
    lockfiles: tuple[str, ...] = ()


def mark_unread(result: ManifestResult, path: str, reason: str) -> None:
    """Record that nothing of the file at ``path`` could be read, and why."""
    result.messages.append(f"{path}: {reason}; skipped")
    result.unread = reason


def show(text: str, limit: int = 120) -> str:
    """Quote file content for a message: credentials in URLs masked, shortened, control
    characters escaped (messages reach logs, the scan's summary and the API)."""
    text = mask_url_credentials(text)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return "'" + "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text) + "'"


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


ManifestParser = Callable[[str | bytes, str], ManifestResult]

# Reads one entry of a manifest's table: (name, value, path, line, where, result).
EntryReader = Callable[[str, object, str, int | None, str, ManifestResult], Dependency | None]
