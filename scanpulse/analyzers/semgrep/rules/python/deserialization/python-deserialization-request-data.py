import base64
import json
import pickle

import yaml
from flask import Flask, request

app = Flask(__name__)


@app.route("/restore")
def restore():
    blob = base64.b64decode(request.cookies.get("state"))
    # ruleid: python-deserialization-request-data
    state = pickle.loads(blob)
    # ruleid: python-deserialization-request-data
    config = yaml.load(request.data, Loader=yaml.Loader)
    # ok: python-deserialization-request-data
    safe = yaml.safe_load(request.data)
    # ok: python-deserialization-request-data
    payload = json.loads(request.data)
    return str((state, config, safe, payload))


def django_import(request):
    # ruleid: python-deserialization-request-data
    return pickle.loads(request.body)


def load_cache(path):
    with open(path, "rb") as handle:
        # ok: python-deserialization-request-data
        return pickle.load(handle)
