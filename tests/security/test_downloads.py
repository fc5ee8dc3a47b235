"""Downloads of a huge scan (30,000 findings, a SARIF report of tens of megabytes) stream:
the server process's memory does not grow by anything near the report's size, and the
findings list never answers more than one capped page."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import httpx
import pytest
from django.http import StreamingHttpResponse

from scanpulse.scans.models import ScanReport
from tests.security import seed

pytestmark = [pytest.mark.services, pytest.mark.slow]

FINDINGS_PER_TOOL = 15_000  # two tools: 30,000 findings
MESSAGE_CHARS = 1_500


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def reset_peak(pid: int) -> None:
    # Writing 5 resets the peak resident set size (VmHWM) to the current one.
    Path(f"/proc/{pid}/clear_refs").write_text("5")


@pytest.fixture
def huge(tenant, tmp_path):
    project = seed.project(tenant, tmp_path, "huge")
    scan = seed.completed_scan(
        project,
        findings=FINDINGS_PER_TOOL,
        message_chars=MESSAGE_CHARS,
        tools=("alpha", "beta"),
    )
    return scan


@pytest.mark.parametrize("encoding", ["gzip", "identity"])
def test_the_report_endpoint_streams(tenant, tmp_path, encoding: str) -> None:
    scan = seed.completed_scan(seed.project(tenant, tmp_path), findings=400, message_chars=400)
    response = tenant.client.get(f"/api/scans/{scan.id}/sarif", HTTP_ACCEPT_ENCODING=encoding)
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)  # never one body in memory
    chunks = list(response.streaming_content)
    assert all(len(chunk) <= 64 * 1024 for chunk in chunks)
    assert len(chunks) == -(-sum(map(len, chunks)) // (64 * 1024))  # in 64 KiB pieces


def test_downloading_a_huge_scan_holds_neither_report_nor_findings_in_memory(
    servers, tenant, huge
) -> None:
    report = ScanReport.objects.get(scan=huge)
    compressed = len(bytes(report.sarif_gzip))
    assert report.size > 40 * 1024**2, "the report should dwarf the server's own memory noise"
    # It is the real writer's output: every finding is in it.
    assert gzip.decompress(bytes(report.sarif_gzip)).count(b'"ruleId"') == 2 * FINDINGS_PER_TOOL
    server = servers()
    assert server.process is not None
    pid = server.process.pid
    headers = {"Authorization": f"Bearer {tenant.token}"}
    url = f"{server.url}/api/scans/{huge.id}/sarif"

    with httpx.Client(timeout=120, headers=headers) as client:
        client.get(f"{server.url}/api/scans/{huge.id}/")  # warm up the process
        for encoding in ("gzip", "identity"):
            before = rss_kib(pid, "VmRSS")
            reset_peak(pid)
            received = 0
            inflater = zlib.decompressobj(wbits=31)
            with client.stream("GET", url, headers={"Accept-Encoding": encoding}) as response:
                assert response.status_code == 200
                assert response.headers["content-type"] == "application/sarif+json"
                assert "attachment" in response.headers["content-disposition"]
                for chunk in response.iter_raw():
                    received += len(chunk)
                    if encoding == "gzip":
                        inflater.decompress(chunk, 0)
            growth = (rss_kib(pid, "VmHWM") - before) * 1024
            if encoding == "gzip":
                assert response.headers["content-encoding"] == "gzip"
                assert received == compressed == int(response.headers["content-length"])
            else:
                assert "content-encoding" not in response.headers
                assert received == report.size == int(response.headers["content-length"])
            # The stored (compressed) report is read whole; the uncompressed one never is.
            assert growth < compressed * 3 + 16 * 1024**2, (encoding, growth, report.size)
            assert growth < report.size / 2, (encoding, growth, report.size)

        # The findings: one capped page at a time, however large a page is asked for.
        reset_peak(pid)
        before = rss_kib(pid, "VmRSS")
        page = client.get(
            f"{server.url}/api/scans/{huge.id}/findings/", params={"page_size": 100_000}
        )
        assert page.status_code == 200
        body = page.json()
        assert body["count"] == 2 * FINDINGS_PER_TOOL
        assert len(body["results"]) == 500
        assert body["next"] and "page=2" in body["next"]
        assert (rss_kib(pid, "VmHWM") - before) * 1024 < report.size / 4


STATIC = Path(__file__).resolve().parents[2] / "scanpulse" / "web" / "static" / "web"


def test_a_real_server_sends_files_and_reports_without_a_synchronous_iterator_warning(
    servers, tenant, tmp_path
) -> None:
    # given: a real server (ASGI), a completed scan, and the site's static files
    scan = seed.completed_scan(seed.project(tenant, tmp_path), findings=40)
    server = servers()
    headers = {"Authorization": f"Bearer {tenant.token}"}

    # when: static files (whole, by range, HEAD) and the report (both encodings) are sent
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for name in ("app.css", "live.js", "icon.svg"):
            response = client.get(f"/static/web/{name}", headers={"Accept-Encoding": "identity"})
            assert response.status_code == 200, name
            assert response.content == (STATIC / name).read_bytes(), name
        ranged = client.get(
            "/static/web/live.js", headers={"Range": "bytes=0-99", "Accept-Encoding": "identity"}
        )
        assert (ranged.status_code, ranged.content) == (
            206,
            (STATIC / "live.js").read_bytes()[:100],
        )
        assert client.head("/static/web/app.css").status_code == 200
        for encoding in ("gzip", "identity"):
            report = client.get(
                f"/api/scans/{scan.id}/sarif", headers={**headers, "Accept-Encoding": encoding}
            )
            assert report.status_code == 200
            assert report.json()["version"] == "2.1.0"
    server.stop()  # the log is complete once the process has exited

    # then: the server logged no warning about how it sent them
    log = server.log_path.read_text()
    assert "synchronous iterators" not in log
    assert "Warning" not in log, log[-3000:]
