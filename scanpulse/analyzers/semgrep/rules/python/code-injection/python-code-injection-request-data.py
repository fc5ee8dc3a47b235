import ast
import json

from flask import Flask, request

app = Flask(__name__)


@app.route("/calc")
def calc():
    expression = request.args.get("expr")
    # ruleid: python-code-injection-request-data
    result = eval(expression)
    # ruleid: python-code-injection-request-data
    exec("value = " + request.form["value"])
    # ok: python-code-injection-request-data
    parsed = ast.literal_eval(expression)
    # ok: python-code-injection-request-data
    data = json.loads(expression)
    return str((result, parsed, data))


def django_view(request):
    plugin = request.GET.get("plugin")
    # ruleid: python-code-injection-request-data
    module = __import__(plugin)
    return module


def startup(config):
    # ok: python-code-injection-request-data
    return eval(config["expression"])
