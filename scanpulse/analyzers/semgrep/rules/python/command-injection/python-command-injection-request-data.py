import os
import shlex
import subprocess

from flask import Flask, request

app = Flask(__name__)


@app.route("/ping")
def ping():
    host = request.args.get("host")
    # ruleid: python-command-injection-request-data
    os.system("ping -c 1 " + host)
    # ruleid: python-command-injection-request-data
    subprocess.run(f"nslookup {host}", shell=True)
    # ruleid: python-command-injection-request-data
    subprocess.check_output(["sh", "-c", "dig " + host])
    # ok: python-command-injection-request-data
    subprocess.run(["ping", "-c", "1", host])
    # ok: python-command-injection-request-data
    subprocess.run("ping -c 1 " + shlex.quote(host), shell=True)
    return "sent"


def django_view(request):
    name = request.POST["archive"]
    # ruleid: python-command-injection-request-data
    stream = os.popen("tar tzf %s" % name)
    return stream.read()


def maintenance():
    # ok: python-command-injection-request-data
    os.system("make clean")
