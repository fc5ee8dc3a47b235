"""OSV matching across ecosystems on real GitHub advisories: entries count only for their own
ecosystem, a malformed event costs only its range, open-ended ranges stay open."""

from __future__ import annotations

import pytest

from scanpulse.advisories.matching import advisory_affects
from scanpulse.advisories.osv import Advisory
from scanpulse.advisories.osv_files import iter_records
from tests.support.data import fixture_data


@pytest.fixture(scope="module")
def ghsa() -> dict[str, Advisory]:
    return {record.id: record for record in iter_records(fixture_data("osv-ghsa-sample"), [])}


def test_a_record_of_several_ecosystems_matches_each_only_in_its_own(
    ghsa: dict[str, Advisory],
) -> None:
    record = ghsa["GHSA-9hcv-j9pv-qmph"]  # tinymce on npm, NuGet and Packagist

    assert advisory_affects(record, "npm", "tinymce", "5.10.9")
    assert advisory_affects(record, "NuGet", "TinyMCE", "5.10.9")
    assert advisory_affects(record, "NuGet", "tinymce", "5.10.9")  # NuGet names ignore case
    assert advisory_affects(record, "Packagist", "TinyMCE/TinyMCE", "v5.10.9")
    assert not advisory_affects(record, "Maven", "tinymce", "5.10.9")
    assert not advisory_affects(record, "npm", "TinyMCE/tinymce", "5.10.9")

    protobuf = ghsa["GHSA-h4h5-3hr4-j3g2"]  # Maven's record with RubyGems pre-releases
    assert advisory_affects(protobuf, "RubyGems", "google-protobuf", "3.21.0.rc.2")
    assert not advisory_affects(protobuf, "RubyGems", "google-protobuf", "3.21.7")
    assert advisory_affects(protobuf, "Maven", "com.google.protobuf:protobuf-java", "3.21.0-rc-2")
    assert not advisory_affects(protobuf, "Maven", "google-protobuf", "3.21.0.rc.2")


def test_a_malformed_fixed_event_costs_only_its_own_range(ghsa: dict[str, Advisory]) -> None:
    record = ghsa["GHSA-fwhr-88qx-h9g7"]  # "fixed": "7.1.3.4, 7.1.4 " on the 7.1 line

    assert advisory_affects(record, "RubyGems", "actionpack", "7.0.8.3")
    assert not advisory_affects(record, "RubyGems", "actionpack", "7.0.8.4")
    assert advisory_affects(record, "RubyGems", "actionpack", "7.2.0.beta1")
    # the 7.1 range is ignored, not guessed open or closed
    assert not advisory_affects(record, "RubyGems", "actionpack", "7.1.3.3")


def test_ranges_without_an_upper_bound_affect_every_later_version(
    ghsa: dict[str, Advisory],
) -> None:
    log4j = ghsa["GHSA-fp5r-v3w9-4333"]  # introduced 1.2.0 only

    assert not advisory_affects(log4j, "Maven", "log4j:log4j", "1.1.3")
    assert advisory_affects(log4j, "Maven", "log4j:log4j", "1.2.0")
    assert advisory_affects(log4j, "Maven", "log4j:log4j", "1.2.17")
    assert advisory_affects(log4j, "Maven", "log4j:log4j", "99.0")


def test_withdrawn_records_never_match(ghsa: dict[str, Advisory]) -> None:
    withdrawn = ghsa["GHSA-8g9c-28fc-mcx2"]
    duplicate_of = ghsa["GHSA-59j7-ghrg-fj52"]

    assert not advisory_affects(withdrawn, "NuGet", "System.IdentityModel.Tokens.Jwt", "6.6.0")
    assert advisory_affects(duplicate_of, "NuGet", "System.IdentityModel.Tokens.Jwt", "6.6.0")
