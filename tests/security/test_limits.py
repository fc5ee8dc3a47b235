"""Request size and shape limits, against a real server process: oversized bodies (declared
or chunked) get 413 without being read, deep JSON gets a 400 that says why, and the JSON
depth measure itself is checked against Python's decoder."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanpulse.core.parsers import json_depth

pytestmark = pytest.mark.services

LIMIT = 64 * 1024


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code, body
    return body["error"]


@pytest.fixture
def server(servers):
    return servers(SCANPULSE_MAX_BODY_BYTES=str(LIMIT))


@pytest.fixture
def api(server, tenant):
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {tenant.token}"}, timeout=30
    ) as client:
        yield client


def test_a_declared_oversized_body_gets_413(api) -> None:
    body = json.dumps({"name": "x" * (LIMIT + 1), "repo_url": "https://e.example/r.git"})
    error = assert_error(
        api.post("/api/projects/", content=body, headers={"content-type": "application/json"}),
        413,
        "payload_too_large",
    )
    assert str(LIMIT) in error["message"]


def test_a_body_at_the_limit_is_read(api) -> None:
    padding = LIMIT - len(json.dumps({"name": "", "repo_url": ""}))
    body = json.dumps({"name": "x" * padding, "repo_url": ""})
    assert len(body) == LIMIT
    error = assert_error(
        api.post("/api/projects/", content=body, headers={"content-type": "application/json"}),
        400,
        "invalid",
    )
    assert "name" in error["fields"] and "repo_url" in error["fields"]


def _raw_request(server, head: str, chunks: list[bytes], pause: float = 0.0) -> tuple[bytes, bool]:
    """Send a request by hand; returns the response and whether every chunk could be sent."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode())
        sent_all = True
        for chunk in chunks:
            try:
                sock.sendall(chunk)
            except OSError:  # the server answered and closed: it stopped reading
                sent_all = False
                break
            if pause:
                time.sleep(pause)
        sock.settimeout(10)
        response = b""
        try:
            while data := sock.recv(65536):
                response += data
        except OSError:
            pass
    return response, sent_all


def test_a_declared_huge_body_is_refused_before_it_is_sent(server, tenant) -> None:
    # Content-Length says 1 GiB; the server answers at once instead of waiting for it.
    head = (
        "POST /api/projects/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {tenant.token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {1024**3}\r\n\r\n"
    )
    started = time.monotonic()
    response, _ = _raw_request(server, head, [b"{" + b" " * 1000])
    assert response.startswith(b"HTTP/1.1 413"), response[:200]
    assert time.monotonic() - started < 5
    assert b'"payload_too_large"' in response


def test_a_chunked_body_over_the_limit_is_cut_off_with_413(server, tenant) -> None:
    # No Content-Length: the body is counted as it arrives and never read past the limit.
    head = (
        "POST /api/projects/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {tenant.token}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    piece = b" " * 16384
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    response, _ = _raw_request(server, head, [chunk] * 64 + [b"0\r\n\r\n"])
    assert response.startswith(b"HTTP/1.1 413"), response[:300]
    assert b'"payload_too_large"' in response


def test_a_small_chunked_body_is_read(server, tenant) -> None:
    head = (
        "POST /api/projects/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Authorization: Bearer {tenant.token}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    body = b'{"name": "", "repo_url": ""}'
    response, _ = _raw_request(
        server, head, [f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"]
    )
    assert response.startswith(b"HTTP/1.1 400"), response[:300]
    assert b'"repo_url"' in response


@pytest.mark.parametrize("depth", [33, 100, 30_000])
def test_json_nested_deeper_than_32_gets_a_clear_400(api, depth: int) -> None:
    body = "[" * depth + "]" * depth
    error = assert_error(
        api.post("/api/projects/", content=body, headers={"content-type": "application/json"}),
        400,
        "parse_error",
    )
    assert error["message"] == "JSON is nested too deeply (at most 32 levels)."


def test_json_32_levels_deep_is_parsed(api) -> None:
    nested: Any = "x"
    for _ in range(31):
        nested = [nested]
    body = json.dumps({"name": nested, "repo_url": "https://e.example/r.git"})
    assert json_depth(body.encode()) == 32
    error = assert_error(
        api.post("/api/projects/", content=body, headers={"content-type": "application/json"}),
        400,
        "invalid",
    )
    assert "name" in error["fields"]  # refused for its type, after parsing


def test_non_text_charsets_are_refused(api) -> None:
    # A bytes-to-bytes codec as "charset" would inflate a compressed body after the size check.
    import zlib

    body = zlib.compress(b'{"name": "' + b"x" * 1_000_000 + b'"}')
    response = api.post(
        "/api/projects/", content=body, headers={"content-type": "application/json; charset=zlib"}
    )
    assert_error(response, 400, "parse_error")


# --- the depth measure ---------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:\n'),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(alphabet='[]{}"\\ab', max_size=4), children, max_size=3)
    ),
    max_leaves=30,
)


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(item) for item in value.values()), default=0)
    return 0


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(JSON_VALUES, st.booleans())
def test_json_depth_is_the_nesting_the_decoder_sees(value: Any, pretty: bool) -> None:
    # Strings full of brackets, quotes and escapes never count; structure always does.
    text = json.dumps(value, indent=1 if pretty else None, ensure_ascii=False).encode()
    assert json_depth(text) == _depth(value)


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(st.binary(max_size=2000))
def test_json_depth_bounds_what_the_decoder_would_recurse_into(data: bytes) -> None:
    # For any bytes the decoder accepts, the measure is exactly its nesting; for the rest it
    # is still a number, computed without error.
    depth = json_depth(data)
    assert depth >= 0
    try:
        value = json.loads(data.decode("utf-8"))  # the parser hands UTF-8 to the measure
    except (ValueError, RecursionError):
        return
    assert depth == _depth(value)
