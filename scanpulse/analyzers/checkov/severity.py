"""Checkov's checks mapped to scanpulse severities, confidences and CWEs.

Run offline, Checkov reports no severity and no guideline of its own (both come from its
vendor's platform), so scanpulse assigns them: first by check id (the checks whose impact is
known to be direct: injection, public exposure, privileged containers, credentials in code),
then by the family the check's title belongs to. The table in docs/analyzers.md is this data;
a test keeps the two equal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scanpulse.analyzers.base import Confidence, Severity


@dataclass(frozen=True, slots=True)
class Family:
    """A group of checks with one severity: matched by id, else by a word of the title."""

    name: str
    severity: Severity
    cwe: tuple[str, ...]
    ids: frozenset[str]
    title: re.Pattern[str] | None
    description: str


def _words(*words: str) -> re.Pattern[str]:
    return re.compile(r"(?:" + "|".join(words) + r")", re.IGNORECASE)


# In order: the first family whose ids hold the check, else the first whose title pattern
# matches the check's title, gives the severity; no match is "hardening" (low).
FAMILIES: tuple[Family, ...] = (
    Family(
        "injection",
        "high",
        ("CWE-78",),
        frozenset({"CKV_GHA_2", "CKV_GHA_3", "CKV_GHA_4", "CKV_GHA_1"}),
        _words(r"shell injection", r"unsecure commands", r"reverse shell", r"netcat"),
        "command injection and untrusted input in CI (shell injection in `run`, unsecure "
        "commands, suspicious curl/netcat)",
    ),
    Family(
        "credentials",
        "high",
        ("CWE-798",),
        frozenset({"CKV_AWS_41", "CKV_AWS_45", "CKV_AWS_46", "CKV_DOCKER_10"}),
        _words(r"hard[- ]?coded", r"secrets? (?:in|exist)", r"plain ?text password"),
        "credentials written in the code (provider keys, secrets in environment variables)",
    ),
    Family(
        "privileged",
        "high",
        ("CWE-250",),
        frozenset(
            {"CKV_K8S_16", "CKV_K8S_17", "CKV_K8S_18", "CKV_K8S_19", "CKV_K8S_20", "CKV_K8S_27"}
        ),
        _words(r"privileged", r"host (?:network|pid|ipc)", r"docker socket", r"host path"),
        "containers with host-level privileges (privileged, host namespaces, Docker socket)",
    ),
    Family(
        "public-exposure",
        "high",
        ("CWE-284",),
        frozenset(
            {
                "CKV_AWS_17",
                "CKV_AWS_20",
                "CKV_AWS_24",
                "CKV_AWS_25",
                "CKV_AWS_57",
                "CKV_AWS_260",
                "CKV2_GHA_1",
            }
        ),
        _words(
            r"0\.0\.0\.0",
            r"publicly accessible",
            r"public(?:ly)? (?:access|read|write|ip)",
            r"permissions to everyone",
            r"write-all",
            r"anonymous",
        ),
        "resources open to the internet or to everyone (0.0.0.0/0 ingress, public buckets and "
        "databases, write-all workflow tokens)",
    ),
    Family(
        "encryption",
        "medium",
        ("CWE-311",),
        frozenset(),
        _words(r"encrypt", r"\bkms\b", r"\btls\b", r"\bssl\b", r"https", r"in transit"),
        "data not encrypted at rest or in transit",
    ),
    Family(
        "access-control",
        "medium",
        ("CWE-269",),
        frozenset(),
        _words(
            r"\biam\b",
            r"capabilit",
            r"privilege escalation",
            r"root",
            r"service account",
            r"\buser\b",
            r"permission",
            r"public acls",
            r"public polic",
            r"restrictpublicbuckets",
            r"public access block",
        ),
        "identities and permissions broader than needed (IAM, capabilities, root users, "
        "service-account tokens, public-access blocks)",
    ),
    Family(
        "supply-chain",
        "medium",
        ("CWE-829",),
        frozenset({"CKV_DOCKER_4", "CKV_DOCKER_7", "CKV_K8S_14", "CKV_K8S_43", "CKV_GHA_7"}),
        _words(r"latest", r"digest", r"\bADD\b", r"pinned", r"cosign", r"image tag"),
        "what is built or run is not pinned (latest tags, no digest, ADD of remote files, "
        "unsigned artifacts)",
    ),
    Family(
        "logging",
        "low",
        ("CWE-778",),
        frozenset(),
        _words(r"\blog", r"monitor", r"insights", r"trail", r"audit"),
        "logging, monitoring and audit trails turned off",
    ),
    Family(
        "resilience",
        "low",
        (),
        frozenset(),
        _words(
            r"backup",
            r"multi-az",
            r"deletion protection",
            r"versioning",
            r"probe",
            r"limits? should",
            r"requests should",
            r"healthcheck",
            r"snapshot",
            r"upgrade",
        ),
        "availability and recovery (backups, versioning, probes, resource limits, upgrades)",
    ),
)
HARDENING = Family(
    "hardening",
    "low",
    (),
    frozenset(),
    None,
    "every other check: configuration hardening and best practice",
)
_BY_ID = {check_id: family for family in FAMILIES for check_id in family.ids}


def family_of(check_id: str, title: str) -> Family:
    """The family, hence severity and CWE, of a Checkov check."""
    family = _BY_ID.get(check_id)
    if family is not None:
        return family
    for candidate in FAMILIES:
        if candidate.title is not None and candidate.title.search(title):
            return candidate
    return HARDENING


def confidence_of(check_id: str) -> Confidence:
    """Resource checks read one attribute (high); graph checks (``CKV2_``) follow connections
    between resources that Checkov may not resolve offline, such as modules (medium)."""
    return "medium" if check_id.startswith("CKV2_") else "high"
