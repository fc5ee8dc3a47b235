"""The scanpulse REST API as the client uses it: a bearer-token client whose errors become
exit codes (401/403 and unreachable servers: 4; refused input: 2)."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import metadata
from typing import Any

import httpx

from .results import EXIT_UNREACHABLE, EXIT_USAGE, CliError

CONNECT_TIMEOUT = 10.0
REQUEST_TIMEOUT = 30.0
PAGE_SIZE = 500


class ApiProblem(CliError):
    """An error answer of the API, with its message (``{"error": {...}}``)."""

    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        self.code = ""
        self.fields: dict[str, list[str]] = {}
        message = response.reason_phrase or "error"
        try:
            error = response.json()["error"]
            self.code = str(error.get("code", ""))
            message = str(error.get("message") or message)
            self.fields = {key: list(value) for key, value in (error.get("fields") or {}).items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
        details = "; ".join(f"{key}: {' '.join(value)}" for key, value in self.fields.items())
        text = f"The server answered {self.status}: {message}" + (
            f" ({details})" if details else ""
        )
        retry_after = response.headers.get("retry-after", "")
        if self.status == 429 and retry_after.isdigit():
            text += f" The server says to retry in {retry_after} s."
        # Too busy (429) is a state of the server, like its errors: a retry may succeed.
        busy = self.status >= 500 or self.status == 429
        super().__init__(text, EXIT_UNREACHABLE if busy else EXIT_USAGE)


class Api:
    """The few endpoints the client needs, with errors turned into exit codes."""

    def __init__(
        self, server: str, token: str, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.server = server.rstrip("/")
        self.client = httpx.Client(
            base_url=self.server,
            headers={
                "Authorization": f"Bearer {token}",
                "User-Agent": f"scanpulse-cli/{_version()}",
            },
            timeout=httpx.Timeout(REQUEST_TIMEOUT, connect=CONNECT_TIMEOUT),
            transport=transport,
        )

    def close(self) -> None:
        self.client.close()

    def unreachable(self, exc: Exception) -> CliError:
        reason = str(exc) or type(exc).__name__
        return CliError(f"Cannot reach the server at {self.server}: {reason}", EXIT_UNREACHABLE)

    def check(self, response: httpx.Response) -> httpx.Response:
        if response.status_code in (401, 403):
            response.read()
            problem = ApiProblem(response)
            hint = " Check --token or SCANPULSE_TOKEN." if response.status_code == 401 else ""
            raise CliError(f"{problem}{hint}", EXIT_UNREACHABLE)
        if not response.is_success:
            response.read()
            raise ApiProblem(response)
        return response

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise self.unreachable(exc) from exc
        return self.check(response)

    def get_json(self, path: str, **params: Any) -> Any:
        return self.send("GET", path, params=params or None).json()

    def paginate(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            body = self.get_json(path, **params, page=page, page_size=PAGE_SIZE)
            yield from body["results"]
            if not body.get("next"):
                return
            page += 1


def _version() -> str:
    try:
        return metadata.version("scanpulse")
    except metadata.PackageNotFoundError:
        return "dev"
