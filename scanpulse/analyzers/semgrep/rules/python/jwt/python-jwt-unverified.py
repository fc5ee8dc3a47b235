import jwt


def claims(token, key):
    # ruleid: python-jwt-unverified
    unverified = jwt.decode(token, options={"verify_signature": False})
    # ruleid: python-jwt-unverified
    legacy = jwt.decode(token, key, verify=False)
    # ok: python-jwt-unverified
    verified = jwt.decode(token, key, algorithms=["HS256"])
    return unverified, legacy, verified
