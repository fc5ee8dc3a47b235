from flask import Flask, request, session

app = Flask(__name__)


@app.route("/lang")
def lang():
    session["is_admin"] = request.args.get("admin")  # label: vulnerable CWE-501
    session["lang"] = "en" if request.args.get("lang") == "en" else "fr"  # label: safe CWE-501
    return "ok"


def cart(request):
    request.session["discount"] = request.POST["discount"]  # label: vulnerable CWE-501
    request.session["visits"] = request.session.get("visits", 0) + 1  # label: safe CWE-501
    return None
