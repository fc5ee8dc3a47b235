import requests
from flask import Flask, request

app = Flask(__name__)
WEBHOOKS = {"slack": "https://hooks.slack.example/T000"}


@app.route("/preview")
def preview():
    url = request.args.get("url", "")
    page = requests.get(url, timeout=5)  # label: vulnerable CWE-918
    search = requests.get("https://search.example.com/", params={"q": url}, timeout=5)  # label: safe CWE-918
    return page.text + search.text


def notify(request):
    target = request.POST["callback"]
    requests.post(target, json={"done": True}, timeout=5)  # label: vulnerable CWE-918
    requests.post(WEBHOOKS["slack"], json={"text": target}, timeout=5)  # label: safe CWE-918
    return None
