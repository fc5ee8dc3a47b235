import os

from django.http import FileResponse
from flask import Flask, request, send_file, send_from_directory
from werkzeug.utils import secure_filename

app = Flask(__name__)
BASE = "/srv/uploads"


@app.route("/download")
def download():
    name = request.args.get("name", "")
    first = send_file(os.path.join(BASE, name))  # label: vulnerable CWE-22
    second = send_from_directory(BASE, name)  # label: safe CWE-22
    return first or second


@app.route("/read")
def read():
    name = request.args["file"]
    with open("/srv/reports/" + name) as handle:  # label: vulnerable CWE-22
        content = handle.read()
    with open(os.path.join("/srv/reports", secure_filename(name))) as handle:  # label: safe CWE-22
        content += handle.read()
    return content


def attachment(request):
    path = request.GET["path"]
    response = FileResponse(open(path, "rb"))  # label: vulnerable CWE-22
    safe = FileResponse(open(os.path.join(BASE, os.path.basename(path)), "rb"))  # label: safe CWE-22
    return response, safe
