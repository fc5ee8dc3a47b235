"""The inbound webhook endpoint, ``/hooks/{organization}/{github|gitlab|gitea}``: outside the
API and the pages (no session, no token, no CSRF token: a host's delivery is authenticated by
its signature alone), answering each host the way it expects."""

from __future__ import annotations

from uuid import UUID

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from scanpulse.core.errors import error_body

from .parsers import Host
from .services import Answer, delivery_receive

STATUS = {
    Answer.UNVERIFIED: 401,
    Answer.MALFORMED: 400,
    Answer.PING: 200,
    Answer.IGNORED: 202,
    Answer.STARTED: 202,
    Answer.DUPLICATE: 200,
    Answer.REFUSED: 429,
}


def _too_large(limit: int) -> JsonResponse:
    return JsonResponse(
        error_body(
            "payload_too_large",
            f"The webhook payload is larger than {limit} bytes (SCANPULSE_WEBHOOK_MAX_BYTES).",
        ),
        status=400,
    )


@csrf_exempt
@require_POST
def inbound_hook(request: HttpRequest, organization_id: UUID, host: str) -> HttpResponse:
    try:
        chosen = Host(host)
    except ValueError:
        return JsonResponse(
            error_body("not_found", "Unknown host: use github, gitlab or gitea."), status=404
        )
    limit = settings.SCANPULSE_WEBHOOK_MAX_BYTES
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return JsonResponse(
            error_body("bad_request", "Content-Length is not a number."), status=400
        )
    if length > limit:
        return _too_large(limit)
    body = request.read(limit + 1)
    if len(body) > limit:
        return _too_large(limit)
    receipt = delivery_receive(
        organization_id=organization_id,
        host=chosen,
        headers=request.headers,
        body=body,
        content_type=request.content_type or "",
    )
    status = STATUS[receipt.answer]
    if receipt.answer == Answer.UNVERIFIED:
        response = JsonResponse(error_body("signature_mismatch", receipt.message), status=status)
    elif receipt.answer == Answer.MALFORMED:
        response = JsonResponse(error_body("malformed_payload", receipt.message), status=status)
    elif receipt.answer == Answer.REFUSED:
        response = JsonResponse(
            error_body("queue_full", receipt.message) | {"scans": receipt.scans}, status=status
        )
        if receipt.retry_after:
            response["Retry-After"] = str(int(receipt.retry_after))
    else:
        response = JsonResponse(receipt.to_json(), status=status)
    return response
