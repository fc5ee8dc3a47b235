"""The OSV feed sync against a real local HTTPS server: first load, conditional re-sync,
incremental changes, withdrawals, corrupt downloads, and the outbound rules."""

from __future__ import annotations

import copy
import io
import zipfile

import pytest

from scanpulse.advisories.models import AdvisoryRecord, FeedState
from scanpulse.advisories.store import active_dataset
from tests.support.osv_feed import FeedServer, export_zip

pytestmark = pytest.mark.django_db


def _loaded(feed: str) -> dict[str, str]:
    return dict(AdvisoryRecord.objects.filter(feed=feed).values_list("osv_id", "record__modified"))


def test_the_first_sync_loads_every_export_and_says_which_records_arrived(
    sync, feed, go_records, npm_records
) -> None:
    synced = sync()

    assert {name: result.outcome for name, result in synced.results.items()} == {
        "Go": "updated",
        "npm": "updated",
    }
    assert set(_loaded("Go")) == set(go_records)
    assert set(_loaded("npm")) == set(npm_records)
    states = {state.ecosystem: state for state in FeedState.objects.all()}
    assert states["Go"].records == len(go_records)
    assert states["Go"].url == f"{feed.base_url}/Go/all.zip"
    assert states["Go"].etag == feed.exports["Go"].etag
    assert states["Go"].last_checked_at is not None and states["Go"].last_error == ""
    dataset = active_dataset()
    assert dataset is not None and dataset.is_feed
    assert dataset.record_count == len(go_records) + len(npm_records)
    assert sorted(osv_id for ids in synced.announced for osv_id in ids) == sorted(
        {*go_records, *npm_records}
    )


def test_a_conditional_resync_transfers_nothing(sync, feed) -> None:
    sync()
    first = active_dataset()
    feed.requests.clear()

    synced = sync()

    assert {result.outcome for result in synced.results.values()} == {"unchanged"}
    assert [(seen.path, seen.status, seen.body_bytes) for seen in feed.requests] == [
        ("/Go/all.zip", 304, 0),
        ("/npm/all.zip", 304, 0),
    ]
    assert all(
        seen.if_none_match == feed.exports[seen.path.split("/")[1]].etag for seen in feed.requests
    )
    assert synced.announced == []
    assert active_dataset().loaded_at == first.loaded_at  # no new snapshot for the analyzers


def test_a_changed_record_is_picked_up_and_only_it_is_reloaded(sync, feed, go_records) -> None:
    sync()
    rows_before = dict(AdvisoryRecord.objects.filter(feed="Go").values_list("osv_id", "pk"))
    changed_id = sorted(go_records)[3]
    changed = copy.deepcopy(go_records)
    changed[changed_id]["modified"] = "2030-01-01T00:00:00Z"
    changed[changed_id]["summary"] = "A summary written later"
    feed.put("Go", export_zip(changed))
    feed.requests.clear()

    synced = sync("Go")

    go = synced.results["Go"]
    assert go.outcome == "updated"
    assert go.load is not None
    assert (go.load.added, go.load.modified, go.load.removed) == ([], [changed_id], [])
    assert synced.announced == [[changed_id]]
    assert [(seen.path, seen.status) for seen in feed.requests] == [("/Go/all.zip", 200)]
    rows_after = dict(AdvisoryRecord.objects.filter(feed="Go").values_list("osv_id", "pk"))
    assert {osv_id for osv_id in rows_after if rows_after[osv_id] != rows_before[osv_id]} == {
        changed_id
    }
    record = AdvisoryRecord.objects.filter(osv_id=changed_id).first().record
    assert record["summary"] == "A summary written later"


def test_withdrawn_and_vanished_records_are_reported(sync, feed, go_records) -> None:
    sync()
    withdrawn_id, gone_id = sorted(go_records)[:2]
    changed = copy.deepcopy(go_records)
    changed[withdrawn_id]["withdrawn"] = "2030-01-02T00:00:00Z"
    changed[withdrawn_id]["modified"] = "2030-01-02T00:00:00Z"
    del changed[gone_id]
    feed.put("Go", export_zip(changed))

    synced = sync("Go")

    load = synced.results["Go"].load
    assert load is not None
    assert load.modified == [withdrawn_id] and load.removed == [gone_id]
    assert synced.announced == [sorted([withdrawn_id, gone_id])]
    assert gone_id not in _loaded("Go")
    assert FeedState.objects.get(ecosystem="Go").records == len(go_records) - 1


def _corrupted(body: bytes) -> bytes:
    """The same archive with one byte of its first member's compressed data flipped."""
    archive = zipfile.ZipFile(io.BytesIO(body))
    info = archive.infolist()[0]
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 5
    damaged = bytearray(body)
    damaged[start] ^= 0xFF
    return bytes(damaged)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_corrupted, "cannot be read"),
        (lambda body: body[: len(body) // 2], "not a valid zip archive"),
        (lambda body: _with_member(body, "broken.json", b"{not json"), "broken.json: not JSON"),
        (
            lambda body: _with_member(body, "x.json", b'{"id": "X-1"}'),
            "x.json: not an OSV record (no id or modified)",
        ),
    ],
    ids=["bad-crc", "truncated", "not-json", "no-modified"],
)
def test_a_corrupt_download_changes_nothing_and_says_so(
    sync, feed, go_records, damage, reason
) -> None:
    sync()
    before = _loaded("Go")
    state_before = FeedState.objects.get(ecosystem="Go")
    changed = copy.deepcopy(go_records)
    first = sorted(changed)[0]
    changed[first]["modified"] = "2031-01-01T00:00:00Z"
    feed.put("Go", damage(export_zip(changed)))

    synced = sync("Go")

    go = synced.results["Go"]
    assert go.outcome == "failed"
    assert "is not a valid OSV export" in go.error and reason in go.error
    assert go.error.endswith("Nothing was changed.")
    assert _loaded("Go") == before
    assert synced.announced == []
    state = FeedState.objects.get(ecosystem="Go")
    assert state.last_error == go.error
    assert (state.etag, state.last_changed_at) == (state_before.etag, state_before.last_changed_at)
    # The good copy, published again, is loaded by the next sync.
    feed.put("Go", export_zip(changed))
    assert sync("Go").announced == [[first]]
    assert FeedState.objects.get(ecosystem="Go").last_error == ""


def _with_member(body: bytes, name: str, content: bytes) -> bytes:
    buffer = io.BytesIO(body)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr(name, content)
    return buffer.getvalue()


def test_plain_http_is_refused_unless_the_operator_allows_it(
    sync, feed_settings, tmp_path, go_records
) -> None:
    with FeedServer(tmp_path, tls=False) as plain:
        plain.put("Go", export_zip(go_records))
        feed_settings.SCANPULSE_OSV_BASE_URL = plain.base_url

        refused = sync("Go").results["Go"]
        assert refused.outcome == "failed"
        assert "must use https://" in refused.error
        assert plain.requests == []

        feed_settings.SCANPULSE_OSV_ALLOW_HTTP = True
        assert sync("Go").results["Go"].outcome == "updated"
        assert set(_loaded("Go")) == set(go_records)


def test_a_private_address_is_refused_without_the_allow_list(sync, feed, feed_settings) -> None:
    feed_settings.SCANPULSE_GIT_ALLOWED_NETWORKS = []

    synced = sync("Go")

    assert synced.results["Go"].outcome == "failed"
    assert "is not allowed on this server" in synced.results["Go"].error
    assert feed.requests == []
    assert active_dataset() is None


def test_an_untrusted_certificate_is_refused(sync, feed, feed_settings) -> None:
    feed_settings.SCANPULSE_OSV_CA_BUNDLE = ""

    synced = sync("Go")

    assert synced.results["Go"].outcome == "failed"
    assert "TLS certificate verification failed" in synced.results["Go"].error
    assert active_dataset() is None


def test_an_export_over_the_size_limit_is_refused(sync, feed, feed_settings) -> None:
    feed_settings.SCANPULSE_OSV_MAX_BYTES = 1000

    result = sync("Go").results["Go"]

    assert result.outcome == "failed" and "more than the limit of 1,000" in result.error
    assert active_dataset() is None


def test_while_a_sync_loads_the_data_stays_the_old_one(sync, feed, go_records) -> None:
    from scanpulse.feeds.services import sync_feed

    sync("Go")
    changed_id = sorted(go_records)[5]
    changed = copy.deepcopy(go_records)
    changed[changed_id]["modified"] = "2032-01-01T00:00:00Z"
    feed.put("Go", export_zip(changed))
    seen_during_load: list[str] = []

    def progress(ecosystem: str, phase: str, done: int, total: int | None) -> None:
        if phase == "load":
            dataset = active_dataset()
            rows = AdvisoryRecord.objects.filter(dataset=dataset, osv_id=changed_id)
            seen_during_load.extend(row.record["modified"] for row in rows)

    sync_feed(["Go"], progress=progress)

    assert seen_during_load and set(seen_during_load) == {go_records[changed_id]["modified"]}
    assert _loaded("Go")[changed_id] == "2032-01-01T00:00:00Z"
    assert AdvisoryRecord.objects.exclude(dataset=active_dataset()).count() == 0


def test_an_export_written_again_with_the_same_records_changes_nothing(
    sync, feed, go_records
) -> None:
    sync("Go")
    before = FeedState.objects.get(ecosystem="Go")
    loaded_at = active_dataset().loaded_at
    again = copy.deepcopy(go_records)
    first = sorted(again)[0]
    again[first]["database_specific"] = {"note": "not read by scanpulse"}
    feed.put("Go", export_zip(again))

    synced = sync("Go")

    go = synced.results["Go"]
    assert go.outcome == "updated" and go.load is not None and go.load.changed_ids == []
    assert synced.announced == []
    state = FeedState.objects.get(ecosystem="Go")
    assert state.etag == feed.exports["Go"].etag != before.etag
    assert state.last_changed_at == before.last_changed_at
    assert state.last_checked_at > before.last_checked_at
    assert active_dataset().loaded_at == loaded_at
