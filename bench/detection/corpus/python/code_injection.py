import ast
import json

from flask import Flask, request

app = Flask(__name__)


@app.route("/calc")
def calc():
    expr = request.args.get("expr", "0")
    value = eval(expr)  # label: vulnerable CWE-95
    literal = ast.literal_eval(expr)  # label: safe CWE-95
    return str((value, literal))


@app.route("/hook", methods=["POST"])
def hook():
    exec(request.form["code"])  # label: vulnerable CWE-95
    data = json.loads(request.form["payload"])  # label: safe CWE-95
    return str(data)


def plugin(request):
    module = __import__(request.GET["plugin"])  # label: vulnerable CWE-95
    handlers = {"csv": "export_csv"}.get(request.GET["plugin"])  # label: safe CWE-95
    return module, handlers
