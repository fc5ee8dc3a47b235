"""The SSE encoder, checked at byte level and against a spec-conforming parser."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from scanpulse.events.sse import (
    clean_field,
    dumps_payload,
    encode_comment,
    encode_event,
    encode_json_event,
    encode_retry_field,
)
from tests.support.sse import StreamParser


def parse(*chunks: bytes) -> StreamParser:
    parser = StreamParser()
    for chunk in chunks:
        parser.feed(chunk)
    return parser


def test_exact_bytes_of_an_event() -> None:
    assert encode_event("a\nb", event="log", id="7") == b"event: log\nid: 7\ndata: a\ndata: b\n\n"
    assert (
        encode_retry_field(2000) + encode_event("x", id="1") == b"retry: 2000\nid: 1\ndata: x\n\n"
    )
    assert encode_comment("heartbeat") == b": heartbeat\n\n"


def test_every_line_terminator_splits_data() -> None:
    frame = encode_event("one\r\ntwo\rthree\nfour")
    assert frame == b"data: one\ndata: two\ndata: three\ndata: four\n\n"
    assert parse(frame).events[0].data == "one\ntwo\nthree\nfour"


def test_ids_and_event_names_cannot_inject_fields() -> None:
    frame = encode_event("x", event="log\ndata: injected\n\nevent: evil", id="1\r\nid: 999\x00")
    parsed = parse(frame)
    assert len(parsed.events) == 1
    assert parsed.events[0].type == "logdata: injectedevent: evil"
    assert parsed.events[0].last_event_id == "1id: 999"
    assert b"\r" not in frame and b"\x00" not in frame
    assert clean_field("a\rb\nc\x00d") == "abcd"


def test_json_events_round_trip_with_their_id() -> None:
    payload = {"message": "line1\nline2\r\n\u2028", "nul": "\x00", "bom": "\ufeffx"}
    parsed = parse(encode_json_event(payload, event="log", id="42"))
    assert json.loads(parsed.events[0].data) == payload
    assert parsed.events[0].last_event_id == "42"


def test_lone_surrogates_survive_as_json_escapes() -> None:
    payload = {"text": "bad \ud800 pair"}
    frame = encode_json_event(payload, event="log", id="1")
    frame.decode("utf-8")  # valid UTF-8 on the wire
    assert json.loads(parse(frame).events[0].data) == payload


def test_non_ascii_stays_compact() -> None:
    assert dumps_payload({"m": "héllo ✓"}) == '{"m":"héllo ✓"}'


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    text=st.text(),
    event=st.text(),
    event_id=st.text(),
    split=st.integers(min_value=0, max_value=200),
)
def test_any_text_round_trips_through_a_conforming_parser(text, event, event_id, split) -> None:
    payload = {"text": text}
    frame = encode_json_event(payload, event=event or "message", id=event_id)
    # Streams arrive in arbitrary chunks, even inside a multi-byte character.
    parsed = parse(frame[:split], frame[split:])
    assert len(parsed.events) == 1
    assert json.loads(parsed.events[0].data) == payload
    expected_type = clean_field(event or "message") or "message"
    assert parsed.events[0].type == expected_type
    assert parsed.events[0].last_event_id == clean_field(event_id)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"])))
def test_raw_data_round_trips_modulo_line_terminators(text) -> None:
    parsed = parse(encode_event(text))
    normalized = text.replace("\r\n", "\n").replace("\r", "\n")
    assert parsed.events[0].data == normalized
