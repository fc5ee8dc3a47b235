from flask import Flask, request, session

app = Flask(__name__)


@app.route("/prefs")
def prefs():
    # ruleid: python-request-data-into-session
    session["role"] = request.args.get("role")
    # ok: python-request-data-into-session
    session["visits"] = session.get("visits", 0) + 1
    return "saved"


def django_view(request):
    # ruleid: python-request-data-into-session
    request.session["user_id"] = request.POST["user_id"]
    # ok: python-request-data-into-session
    request.session["theme"] = "dark"
    return None
