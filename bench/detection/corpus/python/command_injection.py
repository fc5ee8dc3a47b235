import os
import shlex
import subprocess

from flask import Flask, request

app = Flask(__name__)


@app.route("/dns")
def dns():
    host = request.args.get("host", "")
    out = subprocess.check_output("nslookup " + host, shell=True)  # label: vulnerable CWE-78
    ok = subprocess.check_output(["nslookup", host])  # label: safe CWE-78
    return out + ok


@app.route("/convert", methods=["POST"])
def convert():
    name = request.form["name"]
    os.system(f"convert uploads/{name} out.png")  # label: vulnerable CWE-78
    subprocess.run(["convert", "uploads/" + name, "out.png"], check=True)  # label: safe CWE-78
    return "ok"


def archive(request):
    folder = request.POST["folder"]
    os.popen("tar czf backup.tgz " + folder).read()  # label: vulnerable CWE-78
    subprocess.run("tar czf backup.tgz " + shlex.quote(folder), shell=True, check=True)  # label: safe CWE-78
    return None


def nightly():
    subprocess.run(["git", "gc"], check=True)  # label: safe CWE-78
