# ruleid: django-session-cookie-insecure
SESSION_COOKIE_SECURE = False
# ruleid: django-session-cookie-insecure
CSRF_COOKIE_SECURE = False
# ok: django-session-cookie-insecure
SESSION_COOKIE_SECURE = True
# ok: django-session-cookie-insecure
SESSION_COOKIE_HTTPONLY = True
