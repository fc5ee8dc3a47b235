import os

from flask import Flask

app = Flask(__name__)

# ruleid: django-hardcoded-secret-key
SECRET_KEY = "django-insecure-9x!b7q2@k#r$w^z"

# ok: django-hardcoded-secret-key
SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]

# ruleid: django-hardcoded-secret-key
app.secret_key = "super-secret-development-key"

# ok: django-hardcoded-secret-key
app.secret_key = os.urandom(32)
