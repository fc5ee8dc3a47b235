"""Property tests that complete the four families kept beside their code (see docs/security.md):

- SSE encoding (``tests/events/test_sse.py`` checks one frame of ordinary text): here a whole
  stream — connect comment, retry hint, many frames — in arbitrary chunks, with text biased
  towards CR, LF, CRLF, NUL, BOM, U+2028 and lone surrogates in payloads, ids and event names.
- OSV matching (``tests/advisories/test_matching.py`` checks a fixed universe of versions):
  here universes generated from PEP 440 components (epoch, release, pre, post, dev, local) in
  every spelling PEP 440 normalizes, and SemVer with prerelease identifiers and build
  metadata, ordered by an oracle written from the two specifications. The upgrade that fixes
  a version's advisories (``tests/advisories/test_upgrades.py``, the same fixed universe) is
  checked on those generated universes too.
- Manifest parsers (``tests/analyzers/dependencies/test_manifests.py`` feeds random text and
  bytes, which mostly fail to decode): here valid documents of every format in every encoding
  the parsers accept, then damaged byte by byte, through the dispatcher a scan uses.
- Fingerprints (``tests/pipeline/test_fingerprints.py`` edits lines around findings in one
  file): here findings in several files and rules, with other findings appearing and
  disappearing and the flagged lines re-indented or given other line endings.
"""

from __future__ import annotations

import codecs
import itertools
import json
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from scanpulse.advisories.matching import is_affected
from scanpulse.advisories.osv import EVENT_KINDS, Advisory
from scanpulse.advisories.upgrades import best_upgrade
from scanpulse.advisories.versions import parse_version
from scanpulse.analyzers.base import AnalyzerFinding
from scanpulse.analyzers.dependencies.manifests import ManifestResult, parse_manifest
from scanpulse.events.sse import (
    clean_field,
    encode_comment,
    encode_json_event,
    encode_retry_field,
)
from scanpulse.pipeline.fingerprints import assign_fingerprints
from tests.support import osv_oracle as oracle
from tests.support.osv_oracle import RankedEvent
from tests.support.sse import StreamParser

PROPERTY = settings(max_examples=200, derandomize=True, database=None, deadline=None)

# --- SSE: whole streams ------------------------------------------------------------------------

NASTY = ["\r", "\n", "\r\n", "\x00", "\ufeff", "\u2028", "\u2029", "\x85", "\ud800", "\udfff"]
nasty_text = st.lists(
    st.one_of(st.sampled_from(NASTY), st.characters(codec=None), st.text(max_size=5)),
    max_size=20,
).map("".join)


@PROPERTY
@given(
    frames=st.lists(
        st.tuples(nasty_text, nasty_text, nasty_text | st.integers(0, 2**62).map(str)),
        min_size=1,
        max_size=6,
    ),
    cuts=st.lists(st.integers(0, 10_000), max_size=8),
)
def test_a_stream_of_hostile_frames_parses_back_exactly(
    frames: list[tuple[str, str, str]], cuts: list[int]
) -> None:
    # given: the bytes a stream sends, as the server orders them
    wire = encode_comment("connected")
    for index, (text, event, event_id) in enumerate(frames):
        frame = encode_json_event({"text": text, "n": index}, event=event or "log", id=event_id)
        assert frame.endswith(b"\n\n") and b"\n\n" not in frame[:-2], "one block per event"
        assert b"\r" not in frame and b"\x00" not in frame
        frame.decode("utf-8")  # valid UTF-8, surrogates included (as JSON escapes)
        wire += (encode_retry_field(2000) if index == 0 else b"") + frame

    # when: it arrives in arbitrary pieces, even inside a UTF-8 sequence
    parser = StreamParser()
    points = sorted({cut % (len(wire) + 1) for cut in cuts})
    for start, end in itertools.pairwise([0, *points, len(wire)]):
        parser.feed(wire[start:end])

    # then: every event once, in order, with its sanitized name and id
    assert parser.comments == ["connected"]
    assert parser.retry == 2000
    assert len(parser.events) == len(frames)
    for parsed, (index, (text, event, event_id)) in zip(
        parser.events, enumerate(frames), strict=True
    ):
        # Exactly what JSON can carry: a high surrogate followed by a low one is one
        # character to any JSON reader (and to JavaScript, whose strings are UTF-16).
        assert json.loads(parsed.data) == json.loads(json.dumps({"text": text, "n": index}))
        assert parsed.type == (clean_field(event or "log") or "message")
        assert parsed.last_event_id == clean_field(event_id)


# --- OSV matching over generated PEP 440 and SemVer universes ----------------------------------

# One version as components; the oracle orders them by PEP 440's rules, read from the text of
# the specification (not from ``packaging``, which the code under test uses).
Pep440 = tuple[int, tuple[int, ...], tuple[str, int] | None, int | None, int | None, str | None]

PHASES = {"a": 0, "b": 1, "rc": 2}
PHASE_SPELLINGS = {
    "a": ["a", "alpha", "A"],
    "b": ["b", "beta"],
    "rc": ["rc", "c", "pre", "preview"],
}


def pep440_key(version: Pep440) -> tuple[Any, ...]:
    epoch, release, pre, post, dev, local = version
    trimmed = list(release)
    while len(trimmed) > 1 and trimmed[-1] == 0:
        trimmed.pop()  # 1.0 == 1.0.0
    if pre is None and post is None and dev is not None:
        pre_key: tuple[Any, ...] = (0,)  # 1.0.dev0 sorts before 1.0a0
    elif pre is None:
        pre_key = (2,)  # a final release sorts after its pre-releases
    else:
        pre_key = (1, PHASES[pre[0]], pre[1])
    post_key = (0,) if post is None else (1, post)
    dev_key = (2,) if dev is None else (1, dev)  # a dev release sorts before its release
    if local is None:
        local_key: tuple[Any, ...] = (0,)
    else:  # numeric segments above alphanumeric ones; more segments above a matching prefix
        local_key = (
            1,
            tuple(
                (1, int(part), "") if part.isdigit() else (0, 0, part.lower())
                for part in local.split(".")
            ),
        )
    return (epoch, tuple(trimmed), pre_key, post_key, dev_key, local_key)


@st.composite
def pep440_versions(draw: st.DrawFn) -> Pep440:
    epoch = draw(st.sampled_from([0, 0, 0, 1]))
    release = tuple(draw(st.lists(st.integers(0, 3), min_size=1, max_size=3)))
    pre = draw(st.none() | st.tuples(st.sampled_from(sorted(PHASES)), st.integers(0, 2)))
    post = draw(st.none() | st.integers(0, 2))
    dev = draw(st.none() | st.integers(0, 2))
    local = draw(
        st.none()
        | st.lists(st.sampled_from(["abc", "5", "7", "ubuntu", "12"]), min_size=1, max_size=2).map(
            ".".join
        )
    )
    return (epoch, release, pre, post, dev, local)


def pep440_spellings(version: Pep440, rng: random.Random) -> list[str]:
    """The canonical spelling and one that PEP 440 normalizes to it."""
    epoch, release, pre, post, dev, local = version

    def spell(alternative: bool) -> str:
        text = f"{epoch}!" if epoch or (alternative and rng.random() < 0.3) else ""
        if alternative and not text and rng.random() < 0.3:
            text = "v"
        parts = [str(part) for part in release]
        if alternative and rng.random() < 0.5:
            parts.append("0")
        text += ".".join(parts)
        if pre is not None:
            phase, number = pre
            if alternative:
                separator = rng.choice(["", ".", "-", "_"])
                spelled = rng.choice(PHASE_SPELLINGS[phase])
                shown = "" if number == 0 and rng.random() < 0.5 else str(number)
                text += f"{separator}{spelled}{shown}"
            else:
                text += f"{phase}{number}"
        if post is not None:
            if alternative and pre is None and post > 0 and rng.random() < 0.4:
                text += f"-{post}"  # the implicit post release
            elif alternative:
                text += rng.choice([".post", "-post", "post", ".rev", ".r"]) + str(post)
            else:
                text += f".post{post}"
        if dev is not None:
            if alternative:
                text += rng.choice([".dev", "-dev", "dev", "_dev"])
                text += "" if dev == 0 and rng.random() < 0.5 else str(dev)
            else:
                text += f".dev{dev}"
        if local is not None:
            shown = local if not alternative else local.upper().replace(".", rng.choice(".-_"))
            text += "+" + shown
        return text

    return list(dict.fromkeys([spell(False), spell(True)]))


SemVerParts = tuple[int, int, int, tuple[str, ...], str]


def semver_key(version: SemVerParts) -> tuple[Any, ...]:
    """SemVer 2.0.0 § 11, restated."""
    major, minor, patch, prerelease, _build = version
    if not prerelease:
        return (major, minor, patch, 1, ())
    identifiers = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in prerelease
    )
    return (major, minor, patch, 0, identifiers)


semver_versions = st.tuples(
    st.integers(0, 2),
    st.integers(0, 2),
    st.integers(0, 2),
    st.lists(
        st.sampled_from(["alpha", "beta", "rc", "0", "1", "11", "2", "x-y", "A"]), max_size=3
    ).map(tuple),
    st.sampled_from(["", "build.5", "20130313144700", "sha-1a2b"]),
)


def semver_spellings(version: SemVerParts, rng: random.Random) -> list[str]:
    major, minor, patch, prerelease, build = version
    text = f"{major}.{minor}.{patch}" + ("-" + ".".join(prerelease) if prerelease else "")
    other = ("v" if rng.random() < 0.5 else "") + text + (f"+{build}" if build else "")
    return list(dict.fromkeys([text, other]))


Universe = list[list[str]]  # ranks in ascending order, each with its spellings


@st.composite
def universes(draw: st.DrawFn) -> tuple[str, Universe]:
    ecosystem = draw(st.sampled_from(["PyPI", "npm"]))
    rng = random.Random(draw(st.integers(0, 2**32)))
    groups: dict[tuple[Any, ...], list[str]] = {}
    if ecosystem == "PyPI":
        for version in draw(st.lists(pep440_versions(), min_size=2, max_size=8)):
            groups.setdefault(pep440_key(version), []).extend(pep440_spellings(version, rng))
    else:
        for parts in draw(st.lists(semver_versions, min_size=2, max_size=8)):
            groups.setdefault(semver_key(parts), []).extend(semver_spellings(parts, rng))
    return ecosystem, [list(dict.fromkeys(groups[key])) for key in sorted(groups)]


@PROPERTY
@given(universes(), st.data())
def test_versions_order_as_the_specifications_say(case: tuple[str, Universe], data: Any) -> None:
    ecosystem, universe = case
    keys = [[parse_version(ecosystem, text) for text in group] for group in universe]
    for group, parsed in zip(universe, keys, strict=True):
        assert all(key is not None for key in parsed), group
        assert all(key == parsed[0] for key in parsed), group  # every spelling, one version
    for lower, higher in itertools.pairwise(keys):
        assert lower[0] < higher[0], (lower, higher)  # type: ignore[operator]


@PROPERTY
@given(universes(), st.data())
def test_matching_agrees_with_osv_rules_on_generated_universes(
    case: tuple[str, Universe], data: Any
) -> None:
    ecosystem, universe = case
    ranks = st.integers(0, len(universe) - 1)

    def ranked_event() -> st.SearchStrategy[RankedEvent]:
        return st.tuples(st.sampled_from(EVENT_KINDS), ranks).flatmap(
            lambda pair: st.sampled_from(universe[pair[1]]).map(
                lambda text: (pair[0], pair[1], text)
            )
        )

    special = st.sampled_from([("introduced", None, "0"), ("limit", None, "*")])
    types = ["ECOSYSTEM", "GIT"] + (["SEMVER"] if ecosystem == "npm" else [])
    ranges = data.draw(
        st.lists(
            st.tuples(
                st.sampled_from(types),
                st.lists(
                    st.one_of(ranked_event(), ranked_event(), special), min_size=1, max_size=6
                ),
            ),
            max_size=3,
        )
    )
    listed = data.draw(st.lists(ranks, max_size=2))
    affected = oracle.record(
        ecosystem, ranges, (universe[rank][-1] for rank in listed)
    )  # listed in another spelling
    for rank, group in enumerate(universe):
        expected = oracle.affected(rank, ranges, listed)
        for text in group:
            assert is_affected(affected, text) == expected, (text, affected)


@PROPERTY
@given(universes(), st.data())
def test_upgrades_agree_with_a_brute_force_on_generated_universes(
    case: tuple[str, Universe], data: Any
) -> None:
    # given: up to four records over a random universe, and an installed version they affect
    ecosystem, universe = case
    ranks = st.integers(0, len(universe) - 1)
    kinds = ["introduced", "fixed", "fixed", "fixed", "last_affected"]
    kind_rank = st.tuples(st.sampled_from(kinds), ranks)
    ranged = kind_rank.flatmap(
        lambda pair: st.sampled_from(universe[pair[1]]).map(lambda text: (pair[0], pair[1], text))
    )
    start: st.SearchStrategy[RankedEvent] = st.just(("introduced", None, "0"))
    types = ["ECOSYSTEM", "GIT"] + (["SEMVER"] if ecosystem == "npm" else [])
    installed = data.draw(st.integers(0, (len(universe) - 1) // 2))  # room above it
    records: list[oracle.Record] = []
    for number in range(data.draw(st.integers(1, 4))):
        ranges = data.draw(
            st.lists(
                st.tuples(
                    st.sampled_from(types),
                    st.lists(st.one_of(ranged, start), min_size=1, max_size=5),
                ),
                min_size=1,
                max_size=3,
            )
        )
        listed = data.draw(st.lists(ranks, max_size=2))
        if oracle.affected(installed, ranges, listed):
            records.append((f"R-{number}", ranges, listed))
    advisories = [
        Advisory(
            id=ident,
            modified="",
            affected=(oracle.record(ecosystem, ranges, (universe[r][-1] for r in listed)),),
        )
        for ident, ranges, listed in records
    ]
    spelling = data.draw(st.sampled_from(universe[installed]))

    # when
    upgrade = best_upgrade(advisories, ecosystem, "pkg", spelling)

    # then: the oracle, over ranks, agrees on the version and on what it leaves
    expected, left = oracle.upgrade(
        installed, records, len(universe), oracle.prerelease_ranks(universe)
    )
    rank_of = {text: rank for rank, group in enumerate(universe) for text in group}
    assert (rank_of[upgrade.version] if upgrade.version else None) == expected
    assert list(upgrade.not_fixed) == left


# --- manifests: valid documents, damaged -------------------------------------------------------

DOCUMENTS = {
    "requirements.txt": 'django==3.2.0 \\\n    --hash=sha256:00\nrequests>=2 ; python_version < "3.8"\n-r other.txt\n',
    "requirements-dev.txt": "-e .\npytest==8.0\n# comment\n",
    "pyproject.toml": '[project]\nname = "x"\ndependencies = ["django==3.2", "rich>=13"]\n'
    '[project.optional-dependencies]\ndev = ["pytest==8.0"]\n',
    "poetry.lock": '[[package]]\nname = "django"\nversion = "3.2.0"\n\n'
    '[[package]]\nname = "mylib"\nversion = "1.0"\n[package.source]\ntype = "directory"\n',
    "uv.lock": 'version = 1\n[[package]]\nname = "django"\nversion = "3.2.0"\n'
    'source = { registry = "https://pypi.org/simple" }\n',
    "Pipfile.lock": json.dumps(
        {
            "default": {"django": {"version": "==3.2.0"}},
            "develop": {"pytest": {"version": "==8.0"}},
        },
        indent=4,
    ),
    "package-lock.json": json.dumps(
        {
            "lockfileVersion": 3,
            "packages": {
                "": {"dependencies": {"lodash": "^4"}},
                "node_modules/lodash": {"version": "4.17.20"},
                "node_modules/@s/b": {"version": "1.0.0"},
            },
        },
        indent=2,
    ),
}
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-32"]


@st.composite
def damaged(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(DOCUMENTS)))
    data = bytearray(DOCUMENTS[name].encode(draw(st.sampled_from(ENCODINGS))))
    for _ in range(draw(st.integers(0, 6))):
        where = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if action == "flip" and where < len(data):
            data[where] = draw(st.integers(0, 255))
        elif action == "insert":
            data[where:where] = draw(
                st.sampled_from(
                    [b"\x00", b"\xff", b"\xc3", b"[", b"{", b'"', b"\\", b"\n", b"=", b"\r"]
                )
            )
        elif action == "delete" and where < len(data):
            del data[where]
        elif action == "truncate":
            del data[where:]
    directory = draw(st.sampled_from(["", "sub/", "a/b/"]))
    return directory + name, bytes(data)


@PROPERTY
@given(damaged(), st.binary(max_size=200))
def test_every_manifest_format_survives_damage_in_every_encoding(
    case: tuple[str, bytes], included: bytes
) -> None:
    path, data = case
    result = parse_manifest(data, path, include=lambda _path: included)
    assert isinstance(result, ManifestResult)
    for message in result.messages:  # one line each, naming the file it is about
        assert isinstance(message, str) and message.strip()
        assert "\n" not in message and "\r" not in message
        assert ": " in message
    for dependency in result.dependencies:
        assert dependency.name and "\n" not in dependency.name


def test_the_undamaged_documents_parse_in_every_encoding() -> None:
    for name, text in DOCUMENTS.items():
        for encoding in ENCODINGS:
            data = text.encode(encoding)
            if encoding == "utf-16":
                assert data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
            result = parse_manifest(data, name, include=lambda _path: b"flask==2.0\n")
            assert result.dependencies, (name, encoding, result.messages)


# --- fingerprints across files and rules -------------------------------------------------------

SNIPPETS = ["eval(data)", "exec(code)", "password = 'x'", "os.system(cmd)"]


@st.composite
def reports(draw: st.DrawFn) -> tuple[list[AnalyzerFinding], list[AnalyzerFinding], list[int]]:
    """Findings of one tool run, and the next run of the same tool after unrelated changes:
    other findings come and go (other files, other rules, other lines), and the kept ones are
    re-indented, given CRLF or trailing spaces, and moved. Returns (before, after, kept)."""
    count = draw(st.integers(1, 12))
    before = [
        AnalyzerFinding(
            rule_id=draw(st.sampled_from(["B307", "B105"])),
            severity="medium",
            confidence="high",
            path=draw(st.sampled_from(["a.py", "b.py", "pkg/c.py"])),
            start_line=line,
            end_line=line,
            message="m",
            snippet=draw(st.sampled_from(SNIPPETS)),
        )
        for line in sorted(
            draw(st.lists(st.integers(1, 500), min_size=count, max_size=count, unique=True))
        )
    ]
    kept = sorted(draw(st.sets(st.integers(0, count - 1), min_size=1)))
    shift = draw(st.integers(0, 40))
    after: list[AnalyzerFinding] = []
    for index in kept:
        original = before[index]
        whitespace = draw(st.sampled_from(["", "    ", "\t", "  "]))
        ending = draw(st.sampled_from(["", "\r\n", "  ", "\t"]))
        after.append(
            AnalyzerFinding(
                rule_id=original.rule_id,
                severity=original.severity,
                confidence=original.confidence,
                path=original.path,
                start_line=(original.start_line or 0) + shift,
                end_line=(original.end_line or 0) + shift,
                message=original.message,
                snippet=whitespace + original.snippet + ending,
            )
        )
    # Unrelated newcomers: another file or rule, or the same one in a snippet no kept
    # finding has.
    for _ in range(draw(st.integers(0, 5))):
        after.append(
            AnalyzerFinding(
                rule_id=draw(st.sampled_from(["B307", "B105", "B999"])),
                severity="low",
                confidence="low",
                path=draw(st.sampled_from(["a.py", "new.py", "pkg/c.py"])),
                start_line=draw(st.integers(1, 600)),
                end_line=None,
                message="new",
                snippet=draw(st.sampled_from(["brand_new()", "other(x)"])),
            )
        )
    order = draw(st.permutations(range(len(after))))
    return before, [after[i] for i in order], [kept[i] for i in order if i < len(kept)]


@PROPERTY
@given(reports())
def test_fingerprints_survive_unrelated_findings_and_whitespace(
    case: tuple[list[AnalyzerFinding], list[AnalyzerFinding], list[int]],
) -> None:
    before, after, kept = case
    # Only findings whose (rule, path, snippet) group lost no member keep their occurrence
    # numbering by definition; check those.
    groups_before: dict[tuple[str, str, str], list[int]] = {}
    for index, finding in enumerate(before):
        groups_before.setdefault((finding.rule_id, finding.path, finding.snippet), []).append(index)
    intact = {
        index
        for members in groups_before.values()
        if all(member in kept for member in members)
        for index in members
    }
    old = assign_fingerprints("bandit", before)
    new = assign_fingerprints("bandit", after)
    mapping = {
        origin: fingerprint
        for origin, fingerprint in zip(
            kept,
            [fp for finding, fp in zip(after, new, strict=True) if finding.message == "m"],
            strict=True,
        )
    }
    for index in intact:
        assert mapping[index] == old[index], before[index]
    assert len(set(new)) == len(new)  # identical lines still get distinct fingerprints
