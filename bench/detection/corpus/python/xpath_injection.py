from flask import Flask, request
from lxml import etree

app = Flask(__name__)
DOC = etree.parse("accounts.xml")


@app.route("/account")
def account():
    name = request.args.get("name", "")
    hits = DOC.xpath("//account[@owner='" + name + "']")  # label: vulnerable CWE-643
    same = DOC.xpath("//account[@owner=$owner]", owner=name)  # label: safe CWE-643
    return str(len(hits) + len(same))


def lookup(request):
    found = DOC.xpath(f"//user[name='{request.GET['user']}']/email")  # label: vulnerable CWE-643
    everyone = DOC.xpath("//user/email")  # label: safe CWE-643
    return found, everyone
