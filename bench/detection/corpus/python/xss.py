from django.http import HttpResponse
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from flask import Flask, request
from markupsafe import Markup

app = Flask(__name__)


def search(request):
    q = request.GET.get("q", "")
    bad = HttpResponse("<h2>Results for " + q + "</h2>")  # label: vulnerable CWE-79
    good = HttpResponse("<h2>Results for " + escape(q) + "</h2>")  # label: safe CWE-79
    return bad, good


def profile(request):
    bio = request.POST["bio"]
    unsafe = mark_safe("<p>%s</p>" % bio)  # label: vulnerable CWE-79
    safe = format_html("<p>{}</p>", bio)  # label: safe CWE-79
    return unsafe, safe


@app.route("/comment", methods=["POST"])
def comment():
    body = Markup(request.form["body"])  # label: vulnerable CWE-79
    plain = Markup("<b>{}</b>").format(request.form["body"])  # label: safe CWE-79
    return str(body) + str(plain)
