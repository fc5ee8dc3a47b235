from django.http import HttpResponse
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from flask import Flask, render_template, request
from markupsafe import Markup

app = Flask(__name__)


def django_search(request):
    query = request.GET.get("q", "")
    # ruleid: python-xss-request-data
    return HttpResponse("<p>Results for " + query + "</p>")


def django_banner(request):
    # ruleid: python-xss-request-data
    banner = mark_safe("<div>%s</div>" % request.GET["banner"])
    # ok: python-xss-request-data
    safe = format_html("<div>{}</div>", request.GET["banner"])
    # ok: python-xss-request-data
    page = HttpResponse("<p>" + escape(request.GET["q"]) + "</p>" + safe)
    return page, banner


@app.route("/hello")
def flask_hello():
    name = request.args.get("name")
    # ruleid: python-xss-request-data
    return f"<h1>Hello {name}</h1>"


@app.route("/comment")
def flask_comment():
    # ruleid: python-xss-request-data
    text = Markup(request.form["comment"])
    return render_template("comment.html", comment=text)


@app.route("/count")
def flask_count():
    # ok: python-xss-request-data
    return f"<p>{int(request.args['n']) + 1}</p>"


def static_page(request):
    # ok: python-xss-request-data
    return HttpResponse("<p>Hello</p>")
