import os

from django.http import FileResponse
from fastapi import FastAPI
from fastapi.responses import FileResponse as FastFileResponse
from flask import Flask, request, send_file, send_from_directory
from werkzeug.utils import secure_filename

app = Flask(__name__)
api = FastAPI()


@app.route("/download")
def download():
    name = request.args.get("file")
    # ruleid: python-path-traversal-request-data
    with open(os.path.join("/srv/files", name)) as handle:
        content = handle.read()
    # ruleid: python-path-traversal-request-data
    send_file("/srv/files/" + name)
    # ok: python-path-traversal-request-data
    send_file(os.path.join("/srv/files", secure_filename(name)))
    # ok: python-path-traversal-request-data
    with open(os.path.join("/srv/files", os.path.basename(name))) as handle:
        content += handle.read()
    # ok: python-path-traversal-request-data
    return send_from_directory("/srv/files", name)


def django_download(request):
    path = request.GET["path"]
    # ruleid: python-path-traversal-request-data
    return FileResponse(open(path, "rb"))


@api.get("/reports/{report}")
def fastapi_report(report: str):
    # ruleid: python-path-traversal-request-data
    return FastFileResponse(f"/srv/reports/{report}")


def read_config():
    # ok: python-path-traversal-request-data
    return open("/etc/app/config.ini").read()
