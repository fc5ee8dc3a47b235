"""An uploaded CycloneDX SBOM (JSON) read like a manifest: each component with a package URL
of a supported ecosystem is a pinned dependency.

A component's ``scanpulse:manifest`` property (written by scanpulse's own export) names the
manifest it came from, so an SBOM scanpulse exported gives the same findings as the repository
it describes; without it, the SBOM itself is the manifest. A component is direct when its
``scanpulse:direct`` property says so, or when the SBOM's root component depends on it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ..purls import from_purl
from .results import Dependency, ManifestResult, mark_unread

# Components one SBOM may list (nested ones included).
MAX_COMPONENTS = 100_000
MANIFEST_PROPERTY = "scanpulse:manifest"
DIRECT_PROPERTY = "scanpulse:direct"
_PATH_LIMIT = 1024


def parse_cyclonedx(data: str | bytes, path: str) -> ManifestResult:
    result = ManifestResult()
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        mark_unread(result, path, f"not valid JSON ({exc})")
        return result
    if not isinstance(document, dict) or document.get("bomFormat") != "CycloneDX":
        mark_unread(result, path, "not a CycloneDX JSON document")
        return result
    roots = _root_dependencies(document)
    skipped: dict[str, int] = {}
    for number, component in enumerate(_components(document.get("components")), start=1):
        if number > MAX_COMPONENTS:
            result.messages.append(
                f"{path}: more than {MAX_COMPONENTS} components; the rest skipped"
            )
            break
        purl = component.get("purl")
        if not isinstance(purl, str) or not purl:
            skipped["without a package URL"] = skipped.get("without a package URL", 0) + 1
            continue
        try:
            ecosystem, name, version = from_purl(purl)
        except ValueError as exc:
            reason = str(exc) if "not supported" in str(exc) else "with an invalid package URL"
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        version = _text(component.get("version")) or version
        properties = _properties(component)
        where = _manifest(properties.get(MANIFEST_PROPERTY)) or path
        direct = properties.get(DIRECT_PROPERTY) == "true" or component.get("bom-ref") in roots
        result.dependencies.append(
            Dependency(
                ecosystem=ecosystem,
                name=name,
                version=version or None,
                spec=f"{name}@{version}" if version else name,
                path=where,
                line=None,
                direct=direct,
            )
        )
    for reason, count in sorted(skipped.items()):
        noun = "component" if count == 1 else "components"
        result.messages.append(f"{path}: {count} {noun} {reason}: not checked")
    return result


def _components(value: object) -> Iterator[dict[str, Any]]:
    """Every component, nested ones included, depth first (no recursion limit to hit)."""
    stack = [value]
    while stack:
        current = stack.pop()
        if not isinstance(current, list):
            continue
        for component in reversed(current):
            if isinstance(component, dict):
                yield component
                stack.append(component.get("components"))


def _root_dependencies(document: dict[str, Any]) -> set[str]:
    metadata = document.get("metadata")
    root = metadata.get("component") if isinstance(metadata, dict) else None
    ref = root.get("bom-ref") if isinstance(root, dict) else None
    for entry in document.get("dependencies") or ():
        if isinstance(entry, dict) and ref is not None and entry.get("ref") == ref:
            return {str(item) for item in entry.get("dependsOn") or ()}
    return set()


def _properties(component: dict[str, Any]) -> dict[str, str]:
    found = {}
    for item in component.get("properties") or ():
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            found[item["name"]] = _text(item.get("value"))
    return found


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _manifest(value: str | None) -> str:
    """A manifest path as the SBOM gives it, if it is a plausible repository path."""
    if not value or len(value) > _PATH_LIMIT or not value.isprintable():
        return ""
    if value.startswith("/") or ".." in value.split("/") or "\\" in value:
        return ""
    return value
