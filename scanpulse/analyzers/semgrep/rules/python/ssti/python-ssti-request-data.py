import jinja2
from flask import Flask, render_template, render_template_string, request

app = Flask(__name__)


@app.route("/hello")
def hello():
    name = request.args.get("name", "world")
    # ruleid: python-ssti-request-data
    return render_template_string("<h1>Hello " + name + "</h1>")


@app.route("/greet")
def greet():
    template = f"<p>Welcome {request.args['user']}</p>"
    # ruleid: python-ssti-request-data
    return jinja2.Template(template).render()


@app.route("/safe")
def safe():
    name = request.args.get("name", "world")
    # ok: python-ssti-request-data
    render_template_string("<h1>Hello {{ name }}</h1>", name=name)
    # ok: python-ssti-request-data
    return render_template("hello.html", name=name)


def django_view(request):
    env = jinja2.Environment()
    # ruleid: python-ssti-request-data
    return env.from_string(request.POST["layout"]).render()
