import hashlib
import os


def register(user, password):
    user.password = hashlib.md5(password.encode()).hexdigest()  # label: vulnerable CWE-916
    salt = os.urandom(16)
    user.password = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)  # label: safe CWE-916
    return user


def change_password(user, new_password):
    user.password = hashlib.sha256(new_password.encode()).hexdigest()  # label: vulnerable CWE-916
    user.password = hashlib.pbkdf2_hmac("sha256", new_password.encode(), os.urandom(16), 600_000)  # label: safe CWE-916
    return user


PASSWORD_HASHERS = ["django.contrib.auth.hashers.UnsaltedMD5PasswordHasher"]  # label: vulnerable CWE-916
PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]  # label: safe CWE-916


def etag(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()  # label: safe CWE-916
