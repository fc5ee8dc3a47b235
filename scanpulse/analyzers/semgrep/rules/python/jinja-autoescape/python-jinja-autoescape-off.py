import jinja2
from jinja2 import Environment, FileSystemLoader, select_autoescape

# ruleid: python-jinja-autoescape-off
unsafe = Environment(loader=FileSystemLoader("templates"), autoescape=False)
# ruleid: python-jinja-autoescape-off
default = jinja2.Environment(loader=FileSystemLoader("templates"))
# ok: python-jinja-autoescape-off
safe = Environment(loader=FileSystemLoader("templates"), autoescape=select_autoescape(["html"]))
