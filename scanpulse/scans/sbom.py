"""SBOMs out and in: a scan's dependency inventory as CycloneDX 1.6 JSON or SPDX 2.3 JSON, and
an uploaded CycloneDX SBOM as the source of a scan (no repository needed).

The export lists one component (CycloneDX) or package (SPDX) per inventory row: a package
version pinned in one manifest, named by its package URL, with the manifest
(``scanpulse:manifest``) and whether it is direct (``scanpulse:direct``). The project is the
root that depends on the direct ones. An upload is checked here (size, JSON, CycloneDX, at
least one component with a package URL of a supported ecosystem) and kept with its scan; the
scan's fetch writes it into the checkout, and the dependencies analyzer reads its components
like a manifest's (``analyzers.dependencies.manifests.cyclonedx``).
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Iterable
from datetime import UTC
from typing import Any

from cyclonedx.model import Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from django.conf import settings
from django.db import transaction

from scanpulse.analyzers.dependencies.manifests.cyclonedx import (
    DIRECT_PROPERTY,
    MANIFEST_PROPERTY,
)
from scanpulse.analyzers.dependencies.purls import from_purl, to_purl
from scanpulse.core.exceptions import Invalid, PayloadTooLarge
from scanpulse.core.parsers import json_depth
from scanpulse.projects.models import Project
from scanpulse.tenancy.permissions import Action, require_member
from scanpulse.tenancy.types import User

from .models import InventoryItem, Scan, ScanStatus, ScanTrigger, ScanUpload
from .services import _check_queue_quota, _checked_ref, _create_locked

FORMATS = ("cyclonedx", "spdx")
CONTENT_TYPES = {
    "cyclonedx": "application/vnd.cyclonedx+json",
    "spdx": "application/spdx+json",
}
# The name of an uploaded SBOM in its scan's checkout.
UPLOADED_NAME = "sbom.cdx.json"
# The ref an uploaded SBOM's scan is filed under unless the upload names one.
UPLOAD_REF = "sbom"
TOOL_NAME = "scanpulse"
# Nesting an uploaded SBOM may have (components within components).
MAX_DEPTH = 64


def inventory_of(scan: Scan) -> list[InventoryItem]:
    return list(InventoryItem.objects.filter(scan=scan).order_by("path", "ecosystem", "name", "id"))


def _require_completed(scan: Scan) -> None:
    if scan.status != ScanStatus.COMPLETED:
        raise Invalid(
            "Only a completed scan has a dependency inventory to export.",
            code="scan_not_completed",
        )


def sbom_filename(scan: Scan, kind: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", scan.project.name).strip("-") or "project"
    suffix = "cdx.json" if kind == "cyclonedx" else "spdx.json"
    return f"{name}-{str(scan.id)[:8]}.{suffix}"


def sbom_document(scan: Scan, kind: str) -> str:
    """The scan's inventory in ``kind`` (``cyclonedx`` or ``spdx``), as JSON text."""
    if kind not in FORMATS:
        raise Invalid(
            f"Unknown SBOM format {kind!r}: choose cyclonedx or spdx.",
            fields={"format": [f"Choose one of: {', '.join(FORMATS)}."]},
        )
    _require_completed(scan)
    items = inventory_of(scan)
    return cyclonedx_json(scan, items) if kind == "cyclonedx" else spdx_json(scan, items)


def _purl_text(item: InventoryItem) -> str | None:
    purl = to_purl(item.ecosystem, item.name, item.version)
    return None if purl is None else purl.to_string()


def _ref(item: InventoryItem) -> str:
    return f"{item.path}#{item.ecosystem}:{item.name}@{item.version}"


def cyclonedx_json(scan: Scan, items: Iterable[InventoryItem]) -> str:
    bom = Bom()
    root = Component(
        name=scan.project.name,
        version=scan.commit_sha or None,
        type=ComponentType.APPLICATION,
        bom_ref=f"project:{scan.project_id}",
    )
    bom.metadata.component = root
    if scan.finished_at is not None:
        bom.metadata.timestamp = scan.finished_at.astimezone(UTC)
    bom.metadata.properties.add(Property(name="scanpulse:scan", value=str(scan.id)))
    bom.metadata.properties.add(Property(name="scanpulse:ref", value=scan.ref))
    direct = []
    for item in items:
        purl = to_purl(item.ecosystem, item.name, item.version)
        component = Component(
            name=item.name,
            version=item.version,
            type=ComponentType.LIBRARY,
            purl=purl,
            bom_ref=_ref(item),
            properties=[
                Property(name=MANIFEST_PROPERTY, value=item.path),
                Property(name=DIRECT_PROPERTY, value="true" if item.direct else "false"),
                Property(name="scanpulse:ecosystem", value=item.ecosystem),
            ],
        )
        bom.components.add(component)
        if item.direct:
            direct.append(component)
    bom.register_dependency(root, direct)
    with warnings.catch_warnings():
        # An inventory without direct dependencies (an uploaded SBOM that names none) is a
        # complete answer, not an incomplete graph: the library's warning says nothing here.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"cyclonedx\.")
        text: str = JsonV1Dot6(bom).output_as_string(indent=2)
    return text


def _spdx_id(item: InventoryItem) -> str:
    digest = hashlib.sha256(_ref(item).encode()).hexdigest()[:16]
    return f"SPDXRef-Package-{digest}"


def spdx_json(scan: Scan, items: Iterable[InventoryItem]) -> str:
    """An SPDX 2.3 JSON document: the project as the described package, which depends on the
    direct dependencies; every other package is CONTAINED_BY nothing more than the document
    (``DESCRIBES`` the root only)."""
    created = (scan.finished_at or scan.created_at).astimezone(UTC)
    root_id = "SPDXRef-Project"
    packages: list[dict[str, Any]] = [
        {
            "SPDXID": root_id,
            "name": scan.project.name,
            "versionInfo": scan.commit_sha or scan.ref,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": False,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "primaryPackagePurpose": "APPLICATION",
        }
    ]
    relationships: list[dict[str, str]] = [
        {
            "spdxElementId": "SPDXRef-DOCUMENT",
            "relationshipType": "DESCRIBES",
            "relatedSpdxElement": root_id,
        }
    ]
    for item in items:
        package: dict[str, Any] = {
            "SPDXID": _spdx_id(item),
            "name": item.name,
            "versionInfo": item.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": False,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "primaryPackagePurpose": "LIBRARY",
            "comment": f"{item.ecosystem} package pinned in {item.path}"
            + (" (direct)" if item.direct else " (transitive)"),
        }
        purl = _purl_text(item)
        if purl is not None:
            package["externalRefs"] = [
                {
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": purl,
                }
            ]
        packages.append(package)
        relationships.append(
            {
                "spdxElementId": root_id,
                "relationshipType": "DEPENDS_ON" if item.direct else "CONTAINS",
                "relatedSpdxElement": package["SPDXID"],
            }
        )
    document = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": f"{scan.project.name} dependencies ({scan.ref})",
        "documentNamespace": f"https://scanpulse.invalid/spdx/{scan.project_id}/{scan.id}",
        "creationInfo": {
            "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "creators": [f"Tool: {TOOL_NAME}"],
        },
        "documentDescribes": [root_id],
        "packages": packages,
        "relationships": relationships,
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


# --- upload ------------------------------------------------------------------------------------


def check_upload(data: bytes) -> int:
    """Refuse what cannot be a CycloneDX JSON SBOM scanpulse can check (``Invalid``, a 400;
    ``PayloadTooLarge``, a 413); returns how many components it will check."""
    limit = settings.SCANPULSE_SBOM_MAX_BYTES
    if len(data) > limit:
        raise PayloadTooLarge(
            f"The SBOM is larger than {limit // (1024 * 1024)} MiB, the most that may be "
            "uploaded (SCANPULSE_SBOM_MAX_BYTES).",
            code="too_large",
            fields={"file": ["Too large."]},
        )
    if json_depth(data) > MAX_DEPTH:
        raise Invalid(
            f"The SBOM is nested more than {MAX_DEPTH} levels deep.",
            fields={"file": ["Nested too deeply."]},
        )
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid(
            "The SBOM is not valid JSON.", fields={"file": [f"Not valid JSON: {exc}"[:200]]}
        ) from exc
    if not isinstance(document, dict) or document.get("bomFormat") != "CycloneDX":
        raise Invalid(
            "Only CycloneDX JSON SBOMs can be uploaded (bomFormat must be CycloneDX).",
            fields={"file": ["Not a CycloneDX JSON document."]},
        )
    if not isinstance(document.get("specVersion"), str):
        raise Invalid("The SBOM has no specVersion.", fields={"file": ["specVersion is missing."]})
    components = document.get("components", [])
    if not isinstance(components, list):
        raise Invalid(
            "The SBOM's components must be a list.", fields={"file": ["components: not a list."]}
        )
    usable = 0
    for component in _flatten(components):
        purl = component.get("purl") if isinstance(component, dict) else None
        if isinstance(purl, str):
            try:
                from_purl(purl)
            except ValueError:
                continue
            usable += 1
    if not usable:
        raise Invalid(
            "The SBOM lists no component with a package URL (purl) of a supported ecosystem "
            "(PyPI, npm, Go, crates.io, Maven, RubyGems, NuGet, Packagist).",
            code="no_components",
            fields={"file": ["No component can be checked."]},
        )
    return usable


def _flatten(components: list[Any]) -> Iterable[Any]:
    stack = list(reversed(components))
    while stack:
        component = stack.pop()
        yield component
        if isinstance(component, dict) and isinstance(component.get("components"), list):
            stack.extend(reversed(component["components"]))


def scan_create_from_sbom(
    *, user: User, project: Project, data: bytes, ref: str | None = None
) -> Scan:
    """A scan whose source is an uploaded CycloneDX SBOM (``check_upload``), filed under
    ``ref`` (default ``sbom``): it runs like any scan, with live progress, and its fetch reads
    the SBOM instead of a repository."""
    require_member(user=user, organization_id=project.organization_id, action=Action.SCAN_CREATE)
    ref = _checked_ref(ref or UPLOAD_REF, field="ref")
    check_upload(data)
    with transaction.atomic():
        _check_queue_quota(organization_id=project.organization_id)
        scan = _create_locked(project=project, ref=ref, requested_by=user, trigger=ScanTrigger.SBOM)
        # In the same transaction: a worker is asked for only once it has committed.
        ScanUpload.objects.create(scan=scan, content=data, size=len(data))
    scan.refresh_from_db()
    return scan
