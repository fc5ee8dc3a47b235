"""Package URLs (purl) of the ecosystems scanpulse reads, both ways: what an exported SBOM names
each dependency, and what an uploaded SBOM's components are.

One table: PyPI ``pypi``, npm ``npm`` (a scope is the namespace), Go ``golang`` (the module
path, its last segment the name), crates.io ``cargo``, Maven ``maven`` (``group:artifact``),
RubyGems ``gem``, NuGet ``nuget``, Packagist ``composer`` (``vendor/name``).
"""

from __future__ import annotations

from packageurl import PackageURL

from scanpulse.advisories.osv import normalize_name
from scanpulse.advisories.versions import (
    CRATES_IO,
    GO,
    MAVEN,
    NPM,
    NUGET,
    PACKAGIST,
    PYPI,
    RUBYGEMS,
)

PURL_TYPES = {
    PYPI: "pypi",
    NPM: "npm",
    GO: "golang",
    CRATES_IO: "cargo",
    MAVEN: "maven",
    RUBYGEMS: "gem",
    NUGET: "nuget",
    PACKAGIST: "composer",
}
ECOSYSTEMS = {kind: ecosystem for ecosystem, kind in PURL_TYPES.items()}


def to_purl(ecosystem: str, name: str, version: str) -> PackageURL | None:
    """The package URL of a package version; None for an ecosystem without a purl type."""
    kind = PURL_TYPES.get(ecosystem)
    if kind is None:
        return None
    namespace: str | None = None
    if ecosystem == MAVEN and ":" in name:
        namespace, name = name.split(":", 1)
    elif ecosystem in (NPM, GO, PACKAGIST) and "/" in name:
        namespace, name = name.rsplit("/", 1)
    return PackageURL(type=kind, namespace=namespace, name=name, version=version or None)


def from_purl(text: str) -> tuple[str, str, str | None]:
    """``(ecosystem, normalized name, version)`` of a package URL; raises ``ValueError`` for a
    purl that cannot be parsed or whose type scanpulse does not read."""
    purl = PackageURL.from_string(text)
    ecosystem = ECOSYSTEMS.get(purl.type)
    if ecosystem is None:
        raise ValueError(f"package type {purl.type!r} is not supported")
    if ecosystem == MAVEN:
        name = f"{purl.namespace}:{purl.name}" if purl.namespace else purl.name
    else:
        name = f"{purl.namespace}/{purl.name}" if purl.namespace else purl.name
    return ecosystem, normalize_name(ecosystem, name), purl.version
