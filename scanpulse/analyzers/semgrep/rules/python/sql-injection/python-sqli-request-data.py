import sqlite3

from django.db import connection
from django.http import HttpResponse
from fastapi import FastAPI
from flask import Flask, request
from sqlalchemy import text

app = Flask(__name__)
api = FastAPI()


@app.route("/users")
def flask_users():
    name = request.args.get("name")
    cur = sqlite3.connect("app.db").cursor()
    # ruleid: python-sqli-request-data
    cur.execute(f"SELECT * FROM users WHERE name = '{name}'")
    # ruleid: python-sqli-request-data
    cur.execute("SELECT * FROM users WHERE name = '%s'" % name)
    # ruleid: python-sqli-request-data
    cur.execute("SELECT * FROM users WHERE name = '" + name + "'")
    query = "SELECT * FROM users WHERE name = '{}'".format(name)
    # ruleid: python-sqli-request-data
    cur.execute(query)
    # ok: python-sqli-request-data
    cur.execute("SELECT * FROM users WHERE name = ?", (name,))
    # ok: python-sqli-request-data
    cur.execute("SELECT * FROM users WHERE id = %d" % int(request.args["id"]))
    return "done"


def django_users(request):
    order = request.GET["order"]
    # ruleid: python-sqli-request-data
    rows = User.objects.raw("SELECT * FROM auth_user ORDER BY " + order)
    # ruleid: python-sqli-request-data
    User.objects.extra(where=["name = '%s'" % request.POST.get("name")])
    with connection.cursor() as cursor:
        # ok: python-sqli-request-data
        cursor.execute("SELECT * FROM auth_user WHERE username = %s", [order])
    return HttpResponse(len(list(rows)))


@api.get("/items/{item}")
def fastapi_items(item: str, session=None):
    # ruleid: python-sqli-request-data
    return session.execute(text(f"SELECT * FROM items WHERE name = '{item}'"))


def not_a_view(cur, table):
    # ok: python-sqli-request-data
    cur.execute(f"SELECT count(*) FROM {table}")
