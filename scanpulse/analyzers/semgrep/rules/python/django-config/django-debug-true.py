import os

from flask import Flask

app = Flask(__name__)

# ruleid: django-debug-true
DEBUG = True

# ok: django-debug-true
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"

if __name__ == "__main__":
    # ruleid: django-debug-true
    app.run(host="0.0.0.0", debug=True)
    # ok: django-debug-true
    app.run(host="127.0.0.1")
