"""Python requirement strings (PEP 508), as every Python manifest writes them, read into
dependencies.
"""

from __future__ import annotations

from packaging.requirements import InvalidRequirement, Requirement

from scanpulse.advisories.versions import PYPI

from .results import Dependency, ManifestResult, first_line, show


def pep508(
    text: str, where: str, path: str, line: int | None, result: ManifestResult, *, direct: bool
) -> Dependency | None:
    """The dependency ``text`` asks for, or None (with a message) when it cannot be parsed or
    names a URL; pinned only by a single ``==``/``===`` version."""
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        result.messages.append(f"{where}: cannot parse {show(text)} ({first_line(str(exc))})")
        return None
    if requirement.url:
        result.messages.append(
            f"{where}: URL requirement {show(text)} cannot be checked against advisories"
        )
        return None
    pins = {
        spec.version
        for spec in requirement.specifier
        if spec.operator in ("==", "===") and not spec.version.endswith(".*")
    }
    return Dependency(
        ecosystem=PYPI,
        name=requirement.name,
        version=pins.pop() if len(pins) == 1 else None,
        spec=text,
        path=path,
        line=line,
        direct=direct,
        marker=str(requirement.marker) if requirement.marker is not None else None,
    )
