"""Production: PostgreSQL, Redis, Celery workers; every secret comes from the environment."""

from .base import *  # noqa: F403
from .base import env

SECRET_KEY = env.str("SECRET_KEY")
# Secrets at rest are sealed with keys from the environment, never with a generated file.
SCANPULSE_ENCRYPTION_KEYS = env.list("SCANPULSE_ENCRYPTION_KEYS")
if not REDIS_URL:  # noqa: F405
    raise RuntimeError("production settings need REDIS_URL (event bus and Celery broker)")

SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
# HSTS preload is a promise about every subdomain of the site's domain, which only the
# operator can make: it stays opt-in (SECURE_HSTS_PRELOAD=true), and until then `check
# --deploy` is not told to expect it.
if not SECURE_HSTS_PRELOAD:
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
