"""New, unchanged and fixed findings between two scans of the same project and ref."""

from __future__ import annotations

from scanpulse.pipeline.classification import Classification, classify


def test_new_unchanged_and_fixed_across_two_scans() -> None:
    previous = ["fp-a", "fp-b", "fp-c"]
    current = ["fp-d", "fp-b", "fp-a", "fp-e"]

    result = classify(previous, current)

    assert result == Classification(
        statuses=("new", "unchanged", "unchanged", "new"),
        fixed=("fp-c",),
    )


def test_first_scan_has_only_new_findings() -> None:
    assert classify([], ["fp-a", "fp-b"]) == Classification(statuses=("new", "new"), fixed=())


def test_everything_fixed_when_nothing_is_found_any_more() -> None:
    assert classify(iter(["fp-a", "fp-b"]), []) == Classification(
        statuses=(), fixed=("fp-a", "fp-b")
    )


def test_previous_may_be_a_one_shot_iterator_with_repeats() -> None:
    previous = (fp for fp in ["fp-b", "fp-a", "fp-b", "fp-c"])
    result = classify(previous, ["fp-c"])
    assert result == Classification(statuses=("unchanged",), fixed=("fp-b", "fp-a"))


def test_a_finding_fixed_earlier_and_back_again_is_new() -> None:
    # The caller leaves already-fixed fingerprints out of ``previous``.
    assert classify(["fp-a"], ["fp-a", "fp-returned"]).statuses == ("unchanged", "new")
