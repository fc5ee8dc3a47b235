import base64
import json
import pickle

import yaml
from flask import Flask, request

app = Flask(__name__)


@app.route("/cart")
def cart():
    blob = base64.b64decode(request.cookies.get("cart", ""))
    items = pickle.loads(blob)  # label: vulnerable CWE-502
    same = json.loads(blob)  # label: safe CWE-502
    return str((items, same))


def import_settings(request):
    config = yaml.load(request.body, Loader=yaml.Loader)  # label: vulnerable CWE-502
    safe = yaml.safe_load(request.body)  # label: safe CWE-502
    return config, safe
