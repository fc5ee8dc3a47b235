from django.http import HttpResponse
from flask import Flask, make_response

app = Flask(__name__)


def remember(request):
    response = HttpResponse("ok")
    response.set_cookie("remember_me", "1")  # label: vulnerable CWE-614
    response.set_cookie("remember", "1", secure=True, httponly=True, samesite="Lax")  # label: safe CWE-614
    return response


@app.route("/theme")
def theme():
    response = make_response("ok")
    response.set_cookie("sid", "abc", httponly=True)  # label: vulnerable CWE-614
    response.set_cookie("sid2", "abc", httponly=True, secure=True)  # label: safe CWE-614
    return response


SESSION_COOKIE_SECURE = False  # label: vulnerable CWE-614
SESSION_COOKIE_SECURE = True  # label: safe CWE-614
