from django.http import HttpResponseRedirect
from django.shortcuts import redirect as django_redirect
from django.utils.http import url_has_allowed_host_and_scheme
from flask import Flask, redirect, request, url_for

app = Flask(__name__)


@app.route("/login")
def login():
    target = request.args.get("next")
    if target == "home":
        # ok: python-open-redirect-request-data
        return redirect(url_for("home"))
    # ruleid: python-open-redirect-request-data
    return redirect(target)


def django_login(request):
    next_url = request.GET.get("next", "/")
    if url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        # ok: python-open-redirect-request-data
        return HttpResponseRedirect(next_url)
    # ruleid: python-open-redirect-request-data
    return django_redirect(request.POST["return_to"])


def django_logout(request):
    # ruleid: python-open-redirect-request-data
    return HttpResponseRedirect(request.GET["next"])


def home(request):
    # ok: python-open-redirect-request-data
    return HttpResponseRedirect("/dashboard/")
