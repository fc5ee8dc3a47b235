import hashlib
import os


def store(user, password):
    # ruleid: python-weak-password-hash
    user.password_hash = hashlib.md5(password.encode()).hexdigest()
    # ruleid: python-weak-password-hash
    digest = hashlib.sha256(password.encode("utf-8")).hexdigest()
    salt = os.urandom(16)
    # ok: python-weak-password-hash
    user.password_hash = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 600_000)
    return digest


def checksum(data):
    # ok: python-weak-password-hash
    return hashlib.sha256(data).hexdigest()
