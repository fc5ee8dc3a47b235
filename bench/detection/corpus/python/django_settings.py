import os

DEBUG = True  # label: vulnerable CWE-489
DEBUG = os.environ.get("APP_DEBUG") == "1"  # label: safe CWE-489

SECRET_KEY = "django-insecure-4f#q9!zk2l@m8v$w"  # label: vulnerable CWE-798
SECRET_KEY = os.environ["APP_SECRET_KEY"]  # label: safe CWE-798

ALLOWED_HOSTS = ["*"]  # label: vulnerable CWE-183
ALLOWED_HOSTS = ["shop.example.com"]  # label: safe CWE-183

MIDDLEWARE = [  # label: vulnerable CWE-352
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
]
MIDDLEWARE = [  # label: safe CWE-352
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
