import ldap
from flask import Flask, request
from ldap.filter import escape_filter_chars

app = Flask(__name__)
conn = ldap.initialize("ldap://directory.internal")


@app.route("/people")
def people():
    uid = request.args.get("uid", "")
    found = conn.search_s("ou=people,dc=corp", ldap.SCOPE_SUBTREE, "(uid=" + uid + ")")  # label: vulnerable CWE-90
    same = conn.search_s("ou=people,dc=corp", ldap.SCOPE_SUBTREE, "(uid=%s)" % escape_filter_chars(uid))  # label: safe CWE-90
    return str(found + same)


def groups(request):
    cn = request.GET["group"]
    rows = conn.search_s("ou=groups,dc=corp", ldap.SCOPE_SUBTREE, f"(cn={cn})")  # label: vulnerable CWE-90
    fixed = conn.search_s("ou=groups,dc=corp", ldap.SCOPE_SUBTREE, "(objectClass=group)")  # label: safe CWE-90
    return rows, fixed
