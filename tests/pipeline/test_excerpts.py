"""Code excerpts: the lines around a finding, and never a secret in clear."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanpulse.analyzers.base import AnalyzerFinding
from scanpulse.analyzers.redaction import mask
from scanpulse.pipeline import excerpts as module
from scanpulse.pipeline.excerpts import MAX_LINE_CHARS, finding_excerpts

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"


def finding(path: str, line: int | None, end: int | None = None, **properties) -> AnalyzerFinding:
    return AnalyzerFinding(
        rule_id="R1",
        severity="low",
        confidence="high",
        path=path,
        start_line=line,
        end_line=end if end is not None else line,
        message="m",
        properties=properties,
    )


def excerpt_of(tmp_path: Path, text: str, *found: AnalyzerFinding) -> list:
    (tmp_path / "a.py").write_text(text)
    return finding_excerpts(tmp_path, {"a.py"}, [list(found)])[0]


def test_three_lines_around_within_the_file(tmp_path) -> None:
    text = "".join(f"line {n}\n" for n in range(1, 11))
    first, middle, last, none = excerpt_of(
        tmp_path,
        text,
        finding("a.py", 1),
        finding("a.py", 5, 6),
        finding("a.py", 10),
        finding("a.py", None),
    )
    assert first == {"start": 1, "lines": ["line 1", "line 2", "line 3", "line 4"]}
    assert middle == {"start": 2, "lines": [f"line {n}" for n in range(2, 10)]}
    assert last == {"start": 7, "lines": ["line 7", "line 8", "line 9", "line 10"]}
    assert none is None


def test_a_long_finding_shows_its_first_lines_and_a_line_out_of_the_file_none(tmp_path) -> None:
    text = "".join(f"line {n}\n" for n in range(1, 40))
    long, outside = excerpt_of(tmp_path, text, finding("a.py", 10, 30), finding("a.py", 99))
    assert long["start"] == 7 and len(long["lines"]) == 11
    assert outside is None


def test_secrets_on_neighbouring_lines_are_masked_as_in_messages(tmp_path) -> None:
    text = f'import os\nKEY = "{AWS_KEY}"\nassert os\ntoken = "{TOKEN}"\n'
    (excerpt,) = excerpt_of(tmp_path, text, finding("a.py", 3))
    joined = "\n".join(excerpt["lines"])
    assert AWS_KEY not in joined and TOKEN not in joined
    assert f'KEY = "{mask(AWS_KEY)}"' in excerpt["lines"]


def test_on_a_line_reported_as_a_secret_every_quoted_string_is_masked(tmp_path) -> None:
    # bandit's hard-coded password checks: detect-secrets may not see the value
    text = 'x = 1\nconnect(user="admin", password="hunter2")\n'
    (excerpt,) = excerpt_of(tmp_path, text, finding("a.py", 2, masked_secret="********"))
    assert excerpt["lines"][1] == 'connect(user="********", password="********")'


def test_a_private_key_is_masked_whole(tmp_path) -> None:
    body = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun"
    text = f"x = 1\nKEY = '''-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----'''\ny = 2\n"
    (excerpt,) = excerpt_of(tmp_path, text, finding("a.py", 1))
    assert excerpt["lines"] == ["x = 1", "********", "********", "********"]


def test_lines_are_cut_after_masking(tmp_path) -> None:
    padding = "x" * (MAX_LINE_CHARS - 10)
    text = f'{padding} = "{AWS_KEY}"\n'
    (excerpt,) = excerpt_of(tmp_path, text, finding("a.py", 1))
    (line,) = excerpt["lines"]
    assert len(line) == MAX_LINE_CHARS and line.endswith("…")
    assert not any(AWS_KEY[:n] in line for n in range(4, len(AWS_KEY)))


def test_files_outside_the_scan_binary_or_missing_have_none(tmp_path) -> None:
    (tmp_path / "bin.dat").write_bytes(b"\x00\x01\x02flag\n")
    (tmp_path / "other.py").write_text("secret\n")
    found = [finding("bin.dat", 1), finding("other.py", 1), finding("gone.py", 1)]
    assert finding_excerpts(tmp_path, {"bin.dat", "gone.py"}, [found]) == [[None, None, None]]


def test_at_most_so_many_excerpts(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "MAX_EXCERPTS", 2)
    text = "a\nb\nc\n"
    found = excerpt_of(tmp_path, text, finding("a.py", 1), finding("a.py", 2), finding("a.py", 3))
    assert [e is not None for e in found] == [True, True, False]


@pytest.mark.parametrize("style", [">", "|"])
def test_a_secret_spread_over_a_yaml_block_is_masked_piece_by_piece(tmp_path, style) -> None:
    (tmp_path / "config.yml").write_text(
        f"name: app\npassword: {style}\n  Zq7pwAAhunter9xyzQ\n  Lk8mmN3vvB2cc1\nport: 80\n"
    )
    (excerpt,) = finding_excerpts(tmp_path, {"config.yml"}, [[finding("config.yml", 2)]])[0]
    shown = "\n".join(excerpt["lines"])
    assert "Zq7pwAAhunter9xyzQ" not in shown and "Lk8mmN3vvB2cc1" not in shown
    assert mask("Zq7pwAAhunter9xyzQ") in shown


def test_a_password_flagged_on_one_line_is_masked_on_the_others_too(tmp_path) -> None:
    text = 'auth_token = "Zq7pwAAhunter9"\nheaders = {"Authorization": "Bearer Zq7pwAAhunter9"}\n'
    flagged, neighbour = excerpt_of(
        tmp_path, text, finding("a.py", 1, masked_secret="********"), finding("a.py", 2)
    )
    assert "Zq7pwAAhunter9" not in "\n".join(flagged["lines"] + neighbour["lines"])


def test_credentials_in_urls_are_masked_on_every_line(tmp_path) -> None:
    lock = tmp_path / "package-lock.json"
    lock.write_text(
        '{\n  "packages": {\n    "node_modules/lodash": {\n      "resolved": '
        '"https://deploy:glpat-AbCdEf1234567890xyz@gitlab.example.com/lodash.tgz"\n    }\n  }\n}\n'
    )
    (excerpt,) = finding_excerpts(
        tmp_path, {"package-lock.json"}, [[finding("package-lock.json", 3)]]
    )[0]
    shown = "\n".join(excerpt["lines"])
    assert "glpat-AbCdEf1234567890xyz" not in shown and "deploy:" not in shown
    assert "https://***@gitlab.example.com/lodash.tgz" in shown


def test_lines_allowlisted_for_detect_secrets_are_masked_like_other_secret_lines(
    tmp_path,
) -> None:
    # given: secrets the author told detect-secrets to ignore, quoted, unquoted and on the
    # line after a nextline pragma; one of them repeated on a line without a pragma
    password = "s3cr3t-Passw0rd"
    text = (
        "import os\n"
        f'KEY = "{AWS_KEY}"  # pragma: allowlist secret\n'
        f"db_password={password}  # pragma: allowlist secret\n"
        "# pragma: allowlist nextline secret\n"
        f"token: '{TOKEN}'\n"
        f"print({password!r})\n"
        "assert os\n"
    )

    # when: a finding on the import line shows the lines around it
    (shown,) = excerpt_of(tmp_path, text, finding("a.py", 4))

    # then: no value in clear, each replaced by its mask; the rest of the lines as they are
    body = "\n".join(shown["lines"])
    for value in (AWS_KEY, password, TOKEN):
        assert value not in body
    assert f'KEY = "{mask(AWS_KEY)}"  # pragma: allowlist secret' in shown["lines"]
    assert f"db_password={mask(password)}  # pragma: allowlist secret" in shown["lines"]
    assert f"token: '{mask(TOKEN)}'" in shown["lines"]
    assert f"print('{mask(password)}')" in shown["lines"]
    assert "import os" in shown["lines"] and "assert os" in shown["lines"]


def test_a_yaml_bomb_with_a_finding_of_another_tool_is_read_line_by_line(tmp_path) -> None:
    """Excerpts are made in the worker, outside the analyzers' isolated children: a file
    whose YAML aliases would expand to a billion values must not be expanded there."""
    import threading

    from tests.support.repos import BILLION_LAUGHS

    text = f"password: {TOKEN}\n" + BILLION_LAUGHS
    (tmp_path / "laughs.yaml").write_text(text)
    result: list = []
    worker = threading.Thread(
        target=lambda: result.extend(
            finding_excerpts(tmp_path, {"laughs.yaml"}, [[finding("laughs.yaml", 2)]])[0]
        ),
        daemon=True,
    )
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "the excerpt expanded the YAML aliases"
    (excerpt,) = result
    assert excerpt["lines"][0] == f"password: {mask(TOKEN)}"
    assert excerpt["lines"][1].startswith("a: &a [")
