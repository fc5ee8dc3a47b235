"""The secrets analyzer finds exactly what ``detect-secrets scan --all-files`` finds, faster, and
never lets a secret out in clear."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from detect_secrets.core import scan as ds_scan
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanpulse.analyzers.base import AnalyzerContext, AnalyzerResult, Gap
from scanpulse.analyzers.files import discover_files
from scanpulse.analyzers.redaction import KEY_OPTION, mask, secret_id
from scanpulse.analyzers.result_cache import MemoryResultCache, cache_key
from scanpulse.analyzers.runner import run_analyzer
from scanpulse.analyzers.runs import AnalyzerFailure, Callbacks, Limits
from scanpulse.analyzers.secrets import SecretsAnalyzer
from scanpulse.analyzers.secrets.analyzer import rule_id
from scanpulse.analyzers.secrets.probes import ASCII_CASE_ALIASES, literal_condition, plugin_probes
from scanpulse.analyzers.secrets.scanner import SecretScanner
from scanpulse.analyzers.secrets.yaml_aliases import TOO_DEEP
from tests.support.repos import BILLION_LAUGHS

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GITHUB_TOKEN = "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
STRIPE_KEY = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
ENTROPY_B64 = "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg9xQ2Ab"
ENTROPY_HEX = "8f2b0c9d3e4a5b6c7d8e9f0a1b2c3d4e"
PASSWORD = "hunter2-but-longer"

SETTINGS_PY = f"""\
import os

AWS_ACCESS_KEY_ID = "{AWS_KEY}"
aws_secret_access_key = "{AWS_SECRET}"
GITHUB_TOKEN = "{GITHUB_TOKEN}"
password = "{PASSWORD}"
DB_PASSWORD = 'correct horse battery staple'
signing_blob = "{ENTROPY_B64}"
checksum = "{ENTROPY_HEX}"
api_\u212aey = "kelvin-sign-keyword-value"
contraseña = "mi-clave-secreta-larga"
BACKUP_KEY_ID = "{AWS_KEY}"
token = "AKIAI44QH8DHBEXAMPLE"  # pragma: allowlist secret
secret = os.environ["SECRET"]
# İstanbul office
ſecret = "spelled-with-a-long-s-value"
"""

PRIVATE_KEY = """\
-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun
-----END RSA PRIVATE KEY-----
"""

VALUES_YAML = f"""\
database:
  host: db.internal
  password: yaml-password-value-123
  replica_secret: "{ENTROPY_B64}"
blob: !!binary |
  R0lGODlhDAAMAIQAAP//9/X17unp5WZmZgAAAOfn515eXvPz7Y6OjuDg4J+fn5OTk6enp56enmleECcgggoBADs=
"""

APP_INI = f"""\
[database]
password = s3cr3tpassw0rd
api_key = {ENTROPY_HEX}

[service]
; a comment
endpoint = https://svc.example.com
"""

DOT_ENV = f"UPSTREAM_CREDENTIAL={ENTROPY_HEX}\nPORT=8000\n"

APP_JS = f"""\
const stripe = require("stripe")("{STRIPE_KEY}");
const url = "https://admin:p4ssw0rd-x@db.example.com/app";
const hook = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX";
const jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
"""

CRLF_CFG = "[auth]\r\npassword = windows-line-endings-pw\r\n"

# Anchors, aliases and merge keys as CI and compose files use them: read as YAML, as usual.
COMPOSE_YAML = f"""\
x-defaults: &defaults
  image: app:1.0
  environment: &env
    DB_PASSWORD: "compose-password-value"
services:
  web:
    <<: *defaults
    environment:
      <<: *env
      API_TOKEN: "{ENTROPY_B64}"
  worker: *defaults
"""

CLEAR_SECRETS = [AWS_KEY, AWS_SECRET, GITHUB_TOKEN, STRIPE_KEY, PASSWORD, ENTROPY_B64, ENTROPY_HEX]

# The per-deployment key secrets are identified with, as the pipeline passes it.
KEY = bytes(range(32))
OPTIONS = {KEY_OPTION: KEY.hex()}

DJANGO_SUBSET = [
    "contrib/auth/forms.py",
    "contrib/auth/hashers.py",
    "contrib/auth/tokens.py",
    "contrib/auth/management/commands/createsuperuser.py",
    "core/checks/security/base.py",
    "core/signing.py",
    "conf/global_settings.py",
    "conf/locale/de/LC_MESSAGES/django.po",
    "conf/locale/de/LC_MESSAGES/django.mo",
    "conf/locale/es/LC_MESSAGES/django.po",
    "contrib/admin/templates/admin/base.html",
    "contrib/admin/static/admin/js/core.js",
    "contrib/admin/static/admin/img/icon-yes.svg",
]


def _write(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode("utf-8"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    spec = importlib.util.find_spec("django")  # located, not imported
    assert spec is not None and spec.submodule_search_locations is not None
    source = Path(spec.submodule_search_locations[0])
    for relative in DJANGO_SUBSET:
        target = root / "django" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / relative, target)
    _write(
        root,
        {
            "config/settings.py": SETTINGS_PY,
            "keys/id_rsa": PRIVATE_KEY,
            "deploy/values.yaml": VALUES_YAML,
            "deploy/app.ini": APP_INI,
            ".env": DOT_ENV,
            "web/app.js": APP_JS,
            "crlf.cfg": CRLF_CFG,
            "deploy/compose.yaml": COMPOSE_YAML,
            "empty.txt": "",
        },
    )
    return root


def _analyze(root: Path, workers: int = 1) -> AnalyzerResult:
    files = discover_files(root, max_file_size=10 * 1024 * 1024).files
    return SecretsAnalyzer().run(
        AnalyzerContext(root=root, files=files, options=OPTIONS, max_workers=workers)
    )


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - detect-secrets' hash


def _keys(result: AnalyzerResult) -> set[tuple[str, int | None, str, str]]:
    return {
        (f.path, f.start_line, f.properties["secret_type"], f.properties["secret_id"])
        for f in result.findings
    }


@pytest.fixture(scope="module")
def reference(corpus: Path) -> set[tuple[str, int | None, str, str]]:
    # --no-verify: the default run would send candidate keys to AWS, Slack and others. Offline,
    # verification cannot fail a secret, so both runs report the same.
    output = subprocess.run(
        [sys.executable, "-m", "detect_secrets", "scan", "--all-files", "--no-verify", "."],
        cwd=corpus,
        capture_output=True,
        check=True,
    )
    results = json.loads(output.stdout)["results"]
    # Ours are identified by the key-dependent HMAC of the same hash.
    return {
        (name, item["line_number"], item["type"], secret_id(KEY, item["hashed_secret"]))
        for name, items in results.items()
        for item in items
    }


def test_findings_equal_the_detect_secrets_command_line(
    corpus: Path, reference: set[tuple[str, int | None, str, str]]
) -> None:
    reported = {(path, line, kind) for path, line, kind, _ in reference}
    # The corpus exercises what it should: Django's own hits, transformers, the eager pass,
    # a Kelvin sign and a long s matching "key" and "secret" case-insensitively, text whose
    # lowercase is longer (U+0130), and a non-ASCII keyword.
    assert ("django/contrib/auth/forms.py", 129, "Secret Keyword") in reported
    assert ("deploy/values.yaml", 3, "Secret Keyword") in reported
    assert ("deploy/app.ini", 2, "Secret Keyword") in reported
    assert (".env", 1, "Hex High Entropy String") in reported
    assert ("config/settings.py", 10, "Secret Keyword") in reported
    assert ("config/settings.py", 11, "Secret Keyword") in reported
    assert ("config/settings.py", 16, "Secret Keyword") in reported
    assert ("crlf.cfg", 2, "Secret Keyword") in reported
    assert ("deploy/compose.yaml", 4, "Secret Keyword") in reported
    assert not any(path.endswith((".mo", ".svg")) for path, _, _ in reported)

    assert _keys(_analyze(corpus)) == reference


def test_parallel_workers_give_the_same_result(corpus: Path) -> None:
    assert _analyze(corpus, workers=2).to_dict() == _analyze(corpus).to_dict()


def test_findings_carry_type_location_and_hash_but_never_the_secret(corpus: Path) -> None:
    cache = MemoryResultCache()
    result = run_analyzer(
        SecretsAnalyzer,
        root=corpus,
        files=discover_files(corpus, max_file_size=10 * 1024 * 1024).files,
        options=OPTIONS,
        cache=cache,
    )

    dumped = json.dumps([result.to_dict(), cache.entries])
    for secret in CLEAR_SECRETS:
        assert secret not in dumped
        assert _sha1(secret) not in dumped
    [aws] = [f for f in result.findings if f.path == "config/settings.py" and f.start_line == 3]
    identifier = secret_id(KEY, _sha1(AWS_KEY))
    assert (aws.start_line, aws.end_line, aws.severity, aws.confidence) == (3, 3, "high", "high")
    assert aws.message == "AWS Access Key on line 3"
    assert aws.snippet == identifier
    assert aws.properties == {
        "secret_type": "AWS Access Key",
        "masked_secret": "A********E",
        "secret_id": identifier,
    }
    entropy = [f for f in result.findings if f.rule_id == "base64-high-entropy-string"]
    assert entropy and {f.confidence for f in entropy} == {"medium"}
    rules = {rule.id: rule for rule in result.rules}
    assert set(rules) == {f.rule_id for f in result.findings}
    assert rules["aws-access-key"].short_description == "Scans for AWS keys"
    assert rules["aws-access-key"].name == "AWSKeyDetector"
    assert rules["aws-access-key"].help_uri.endswith("/detect_secrets/plugins/aws.py")


def test_a_secret_repeated_in_a_file_is_reported_once(corpus: Path) -> None:
    lines = [
        f.start_line
        for f in _analyze(corpus).findings
        if f.path == "config/settings.py"
        and f.properties["secret_id"] == secret_id(KEY, _sha1(AWS_KEY))
    ]

    assert lines == [3]  # line 12 repeats it; detect-secrets keeps the first


def test_binary_files_are_skipped_and_invalid_utf8_is_scanned(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "blob.dat": b"\0\0\0" + f'password = "{PASSWORD}"\n'.encode(),
            "legacy.txt": b"caf\xe9\n" + f'AWS_KEY = "{AWS_KEY}"\n'.encode(),
        },
    )

    result = _analyze(tmp_path)

    assert [(f.path, f.start_line, f.rule_id) for f in result.findings] == [
        ("legacy.txt", 2, "aws-access-key")
    ]
    assert (result.errors, result.files_analyzed) == ([], 2)


def test_masks_show_nothing_under_16_characters_and_an_eighth_at_most_above() -> None:
    assert mask("s3cr3tpa55wd") == "********"  # 12 characters: not one, not even the length
    assert mask("abcdefghijklmno") == "********"
    assert mask("") == "********"
    assert mask(AWS_KEY) == "A********E"  # 20 characters: 2 shown
    assert mask(GITHUB_TOKEN) == "gh********R8"  # 40: 4
    assert mask("x" * 30 + "y") == "x********y"  # 31: still 2
    assert mask("a" * 200) == "aaaa********aaaa"  # never more than 4 at each end
    for length in range(200):
        secret = "".join(chr(0x41 + i % 26) for i in range(length))
        shown = len(mask(secret).replace("*", ""))
        assert shown <= length / 8 and len(mask(secret)) <= 16


def test_stored_identifiers_confirm_no_guess_without_the_key(tmp_path: Path) -> None:
    # given: a short password, whose first and last four characters used to be shown next to
    # its unsalted SHA-1, which let the four others be brute-forced in seconds
    secret = "s3cr3tpa55wd"
    _write(tmp_path, {"app.ini": f"[db]\npassword = {secret}\n"})

    # when
    [finding] = _analyze(tmp_path).findings
    [other_key] = (
        SecretsAnalyzer()
        .run(
            AnalyzerContext(root=tmp_path, files=["app.ini"], options={KEY_OPTION: bytes(32).hex()})
        )
        .findings
    )

    # then: nothing of it is shown, and no stored value is a plain hash of it
    assert finding.properties["masked_secret"] == "********"
    stored = {finding.snippet, finding.properties["secret_id"]}
    data = secret.encode()
    plain = {
        hashlib.new(name, data).hexdigest()
        for name in ("md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha3_256", "blake2b")
    }
    plain |= {hashlib.sha256(_sha1(secret).encode()).hexdigest()}
    assert not any(value.startswith(digest[:32]) for value in stored for digest in plain)
    assert secret not in json.dumps(finding.to_dict())
    # the identifier is keyed: another deployment's key gives another one
    assert other_key.properties["secret_id"] != finding.properties["secret_id"]
    assert _analyze(tmp_path).findings[0].properties == finding.properties  # and it is stable


def test_the_cache_key_tells_deployment_keys_apart_without_holding_them() -> None:
    analyzer = SecretsAnalyzer()
    content = hashlib.sha256(b"x").hexdigest()
    other = {KEY_OPTION: bytes(32).hex()}

    ours, theirs = cache_key(analyzer, OPTIONS, content), cache_key(analyzer, other, content)

    assert ours != theirs
    assert ours == cache_key(analyzer, dict(OPTIONS), content)
    assert KEY.hex() not in analyzer.config_key(OPTIONS)


def test_without_a_key_the_analyzer_refuses_to_run(corpus: Path) -> None:
    result = run_analyzer(SecretsAnalyzer, root=corpus, files=["config/settings.py"])

    assert isinstance(result, AnalyzerFailure)
    assert result.findings == []


def test_a_billion_laughs_yaml_file_costs_little_and_every_other_file_is_scanned(
    tmp_path: Path,
) -> None:
    # given: a YAML bomb with a password below it, next to a private key and a JWT
    files = {
        "config/laughs.yaml": BILLION_LAUGHS + f'db:\n  password: "{PASSWORD}"\n',
        "keys/id_rsa": PRIVATE_KEY,
        "web/app.js": APP_JS,
        "README.md": "# nothing secret\n",
    }
    _write(tmp_path, files)
    cache = MemoryResultCache()
    logs: list[str] = []

    def scan() -> AnalyzerResult:
        return run_analyzer(
            SecretsAnalyzer,
            root=tmp_path,
            files=sorted(files),
            options=OPTIONS,
            limits=Limits(timeout_s=120, memory_mb=1024, max_workers=2),
            cache=cache,
            callbacks=Callbacks(on_log=logs.append),
        )

    # when: scanned, then scanned again
    first = scan()
    second = scan()

    # then: the secrets are reported, the bomb's line included, and the file is partly analyzed
    reason = (
        "its YAML aliases expand to more than 100,000 values; "
        "scanned line by line instead of as YAML"
    )
    for result in (first, second):
        assert not isinstance(result, AnalyzerFailure), result.errors
        found = {(f.path, f.start_line, f.rule_id) for f in result.findings}
        assert {
            ("keys/id_rsa", 1, "private-key"),
            ("web/app.js", 4, "json-web-token"),
            ("config/laughs.yaml", 11, "secret-keyword"),
        } <= found
        assert result.errors == [f"config/laughs.yaml: {reason}"]
        assert result.gaps == [Gap("config/laughs.yaml", "partial", reason)]
    assert second.to_dict() == first.to_dict()
    # ... the other files' results were cached and reused; the partly analyzed one was not
    keys = {
        name: cache_key(SecretsAnalyzer(), OPTIONS, hashlib.sha256(text.encode()).hexdigest())
        for name, text in files.items()
    }
    assert {name for name, key in keys.items() if key in cache.entries} == {
        "keys/id_rsa",
        "web/app.js",
        "README.md",
    }
    assert "3 of 4 files unchanged since an earlier scan: results reused" in logs


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("loop: &loop [*loop]\n", "its YAML aliases refer to themselves"),
        # too deep for the check before parsing, and for detect-secrets' own parser
        ("one: &one 1\ntwo: *one\ndeep: " + "[" * 1000 + "]" * 1000 + "\n", TOO_DEEP),
        ("deep: " + "[" * 5000 + "]" * 5000 + "\n", TOO_DEEP),
    ],
)
def test_yaml_that_cannot_be_expanded_is_read_line_by_line(
    tmp_path: Path, text: str, reason: str
) -> None:
    _write(tmp_path, {"bad.yaml": text + f'password: "{PASSWORD}"\n', "ok.txt": "x = 1\n"})

    result = _analyze(tmp_path)

    assert [(f.path, f.rule_id) for f in result.findings] == [("bad.yaml", "secret-keyword")]
    full = f"{reason}; scanned line by line instead of as YAML"
    assert result.errors == [f"bad.yaml: {full}"]
    assert result.gaps == [Gap("bad.yaml", "partial", full)]


def test_rule_ids_are_slugs_of_the_secret_type() -> None:
    assert rule_id("AWS Access Key") == "aws-access-key"
    assert rule_id("Public IP (ipv4)") == "public-ip-ipv4"
    assert rule_id("JSON Web Token") == "json-web-token"


def test_the_case_alias_characters_are_those_of_this_python() -> None:
    everything = "".join(map(chr, range(0x80, 0x110000)))
    aliases = set(re.findall("[a-z]", everything, re.IGNORECASE))
    aliases |= {
        c for c in everything if c.lower() != c and (len(c.lower()) != 1 or c.lower().isascii())
    }

    assert aliases == set(ASCII_CASE_ALIASES)


@pytest.mark.parametrize(
    ("pattern", "literals", "ignore_case"),
    [
        (re.compile(r"AKIA[0-9A-Z]{16}"), {"AKIA"}, False),
        (re.compile(r"aws.{0,20}?key", re.IGNORECASE), {"aws"}, True),
        (re.compile(r"(?:foo|bar)baz?"), {"fooba", "foobaz", "barba", "barbaz"}, False),
        (re.compile(r"api_?key"), {"api_key", "apikey"}, False),
        (re.compile(r"x(?i:secret)x"), {"secret"}, True),
    ],
)
def test_literal_conditions(
    pattern: re.Pattern[str], literals: set[str], ignore_case: bool
) -> None:
    condition = literal_condition(pattern)

    assert condition is not None
    assert (set(condition.literals), condition.ignore_case) == (literals, ignore_case)


@pytest.mark.parametrize("pattern", [r"x*", r"[a-z]+", r"\d{3}", r"(a|[b-c])d?"])
def test_no_literal_condition_when_a_match_needs_no_literal(pattern: str) -> None:
    assert literal_condition(re.compile(pattern)) is None


def test_every_builtin_plugin_has_a_selective_probe() -> None:
    scanner = SecretScanner()

    assert {type(plugin).__name__ for plugin in scanner.plugins} >= {
        "AWSKeyDetector",
        "KeywordDetector",
    }
    assert all(
        probe.gate is not None for plugin in scanner.plugins for probe in plugin_probes(plugin)
    )


FRAGMENTS = [
    "password",
    "PassWord",
    "api_key",
    "api_\u212aey",
    "\u017fecret",
    "\u0130d",
    "contraseña",
    "CONTRASEÑA",
    "secret",
    "aws_",
    "AKIA",
    "IOSFODNN7EXAMPLE",
    "ghp_",
    "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    ENTROPY_B64,
    ENTROPY_HEX,
    "=",
    ":",
    " = ",
    "'",
    '"',
    "://",
    "user",
    "@",
    ".",
    "8.8.4.4",
    "sk_live_",
    "xoxb-12-ab",
    "-----BEGIN RSA PRIVATE KEY-----",
    "id_",
    "${",
    "}",
    "(",
    ")",
    " # pragma: allowlist secret",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(st.lists(st.sampled_from(FRAGMENTS), max_size=8).map("".join), max_size=6),
    extension=st.sampled_from([".py", ".yaml", ".go", ".txt", ".js", ".cs", ".cpp", ".ini"]),
)
def test_prefiltered_lines_give_what_detect_secrets_gives(lines: list[str], extension: str) -> None:
    scanner = SecretScanner()
    filename = f"sample{extension}"
    numbered = [f"{line}\n" for line in lines]

    ours = list(scanner._scan_lines(filename, numbered))
    theirs = list(ds_scan._process_line_based_plugins(list(enumerate(numbered, start=1)), filename))

    assert [(s.line_number, s.type, s.secret_hash) for s in ours] == [
        (s.line_number, s.type, s.secret_hash) for s in theirs
    ]
