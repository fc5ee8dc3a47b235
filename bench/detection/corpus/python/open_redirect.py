from django.http import HttpResponseRedirect
from django.shortcuts import redirect as go
from django.urls import reverse
from flask import Flask, redirect, request, url_for

app = Flask(__name__)


@app.route("/after-login")
def after_login():
    target = request.args.get("next", "/")
    if target.startswith("/account"):
        return redirect(url_for("account"))  # label: safe CWE-601
    return redirect(target)  # label: vulnerable CWE-601


def logout(request):
    return HttpResponseRedirect(request.GET.get("next", "/"))  # label: vulnerable CWE-601


def login(request):
    if request.GET.get("next"):
        return go(request.GET["next"])  # label: vulnerable CWE-601
    return HttpResponseRedirect(reverse("home"))  # label: safe CWE-601
