from flask import Flask, request
from lxml import etree

app = Flask(__name__)
TREE = etree.parse("users.xml")


@app.route("/user")
def user():
    name = request.args.get("name")
    # ruleid: python-xpath-injection-request-data
    found = TREE.xpath("//user[@name='" + name + "']")
    # ruleid: python-xpath-injection-request-data
    TREE.find(f".//user[@name='{name}']")
    # ok: python-xpath-injection-request-data
    TREE.xpath("//user[@name=$name]", name=name)
    return str(found)


def count_users():
    # ok: python-xpath-injection-request-data
    return len(TREE.xpath("//user"))
