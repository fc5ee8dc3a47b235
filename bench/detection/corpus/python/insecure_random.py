import random
import secrets
import string


def reset_link(user):
    token = "".join(random.choices(string.ascii_letters + string.digits, k=40))  # label: vulnerable CWE-338
    token = secrets.token_urlsafe(30)  # label: safe CWE-338
    return f"/reset/{user.id}/{token}"


def new_api_key():
    api_key = "%040x" % random.getrandbits(160)  # label: vulnerable CWE-338
    api_key = secrets.token_hex(20)  # label: safe CWE-338
    return api_key


def otp():
    otp_code = str(random.randint(100000, 999999))  # label: vulnerable CWE-338
    otp_code = str(secrets.randbelow(900000) + 100000)  # label: safe CWE-338
    return otp_code
