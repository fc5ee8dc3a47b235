import sqlite3

from django.db import connection
from django.http import JsonResponse
from fastapi import FastAPI
from flask import Flask, jsonify, request
from sqlalchemy import text

app = Flask(__name__)
api = FastAPI()
db = sqlite3.connect("shop.db")


@app.route("/products")
def products():
    category = request.args.get("category", "")
    cur = db.cursor()
    cur.execute("SELECT * FROM products WHERE category = '%s'" % category)  # label: vulnerable CWE-89
    cur.execute("SELECT * FROM products WHERE category = ?", (category,))  # label: safe CWE-89
    return jsonify(cur.fetchall())


@app.route("/orders")
def orders():
    customer = request.form["customer"]
    cur = db.cursor()
    cur.execute(f"SELECT * FROM orders WHERE customer = '{customer}'")  # label: vulnerable CWE-89
    cur.execute("SELECT * FROM orders WHERE customer = :c", {"c": customer})  # label: safe CWE-89
    return jsonify(cur.fetchall())


def search(request):
    term = request.GET.get("q", "")
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM item WHERE name LIKE '%" + term + "%'")  # label: vulnerable CWE-89
        cursor.execute("SELECT id FROM item WHERE name LIKE %s", ["%" + term + "%"])  # label: safe CWE-89
        rows = cursor.fetchall()
    return JsonResponse({"ids": rows})


def sort_users(request):
    order = request.GET["order"]
    users = User.objects.raw("SELECT * FROM auth_user ORDER BY {}".format(order))  # label: vulnerable CWE-89
    fixed = User.objects.raw("SELECT * FROM auth_user ORDER BY username")  # label: safe CWE-89
    return JsonResponse({"n": len(list(users)) + len(list(fixed))})


@api.get("/invoices/{number}")
def invoice(number: str, session=None):
    row = session.execute(text(f"SELECT * FROM invoice WHERE number = '{number}'"))  # label: vulnerable CWE-89
    same = session.execute(text("SELECT * FROM invoice WHERE number = :n"), {"n": number})  # label: safe CWE-89
    return {"row": row, "same": same}


def report(cur, table_name):
    cur.execute("SELECT count(*) FROM " + "audit_log")  # label: safe CWE-89
