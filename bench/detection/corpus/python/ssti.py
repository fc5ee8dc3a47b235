from flask import Flask, render_template, render_template_string, request

app = Flask(__name__)


@app.route("/greet")
def greet():
    name = request.args.get("name", "guest")
    page = render_template_string("<h1>Hi " + name + "</h1>")  # label: vulnerable CWE-1336
    same = render_template_string("<h1>Hi {{ name }}</h1>", name=name)  # label: safe CWE-1336
    return page + same


@app.route("/card")
def card():
    title = request.args["title"]
    html = render_template_string(f"<div class='card'>{title}</div>")  # label: vulnerable CWE-1336
    return html + render_template("card.html", title=title)  # label: safe CWE-1336
