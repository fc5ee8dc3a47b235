from jinja2 import Environment, FileSystemLoader, select_autoescape

mail = Environment(loader=FileSystemLoader("mail"), autoescape=False)  # label: vulnerable CWE-79
web = Environment(loader=FileSystemLoader("web"), autoescape=select_autoescape(["html"]))  # label: safe CWE-79
