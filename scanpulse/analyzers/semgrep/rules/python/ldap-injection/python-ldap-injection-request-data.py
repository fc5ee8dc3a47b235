import ldap
from flask import Flask, request
from ldap.filter import escape_filter_chars

app = Flask(__name__)


@app.route("/lookup")
def lookup():
    user = request.args.get("user")
    conn = ldap.initialize("ldap://ldap.example.com")
    # ruleid: python-ldap-injection-request-data
    conn.search_s("dc=example,dc=com", ldap.SCOPE_SUBTREE, "(uid=" + user + ")")
    # ok: python-ldap-injection-request-data
    conn.search_s("dc=example,dc=com", ldap.SCOPE_SUBTREE, "(uid=%s)" % escape_filter_chars(user))
    return "ok"


def django_lookup(request, server):
    # ruleid: python-ldap-injection-request-data
    server.search("dc=example,dc=com", f"(mail={request.GET['mail']})")
    # ok: python-ldap-injection-request-data
    server.search("dc=example,dc=com", "(objectClass=person)")
