from urllib.request import urlopen

import httpx
import requests
from flask import Flask, request

app = Flask(__name__)
ALLOWED = {"status": "https://status.example.com/api"}


@app.route("/fetch")
def fetch():
    url = request.args.get("url")
    # ruleid: python-ssrf-request-data
    response = requests.get(url, timeout=5)
    # ruleid: python-ssrf-request-data
    urlopen(request.form["target"])
    # ruleid: python-ssrf-request-data
    httpx.post("http://" + request.args["host"] + "/hook")
    # ok: python-ssrf-request-data
    requests.get("https://api.example.com/search", params={"q": url}, timeout=5)
    # ok: python-ssrf-request-data
    requests.get(ALLOWED["status"], timeout=5)
    return response.text


def django_proxy(request):
    # ruleid: python-ssrf-request-data
    return requests.post(request.POST["callback"], json={"ok": True})
