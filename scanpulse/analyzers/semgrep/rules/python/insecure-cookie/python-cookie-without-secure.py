from django.http import HttpResponse


def login(request):
    response = HttpResponse("welcome")
    # ruleid: python-cookie-without-secure
    response.set_cookie("session_id", "abc123")
    # ruleid: python-cookie-without-secure
    response.set_cookie("remember", "1", secure=True)
    # ok: python-cookie-without-secure
    response.set_cookie("sid", "abc123", secure=True, httponly=True, samesite="Lax")
    return response
