import jwt
import requests


def user_of(token, key):
    claims = jwt.decode(token, options={"verify_signature": False})  # label: vulnerable CWE-347
    claims = jwt.decode(token, key, algorithms=["HS256"])  # label: safe CWE-347
    return claims


def fetch_status(url):
    insecure = requests.get(url, verify=False, timeout=5)  # label: vulnerable CWE-295
    secure = requests.get(url, verify="/etc/ssl/corp-ca.pem", timeout=5)  # label: safe CWE-295
    return insecure, secure
