import ssl

import requests


def fetch(url):
    # ruleid: python-requests-verify-disabled
    response = requests.get(url, verify=False, timeout=5)
    # ok: python-requests-verify-disabled
    checked = requests.get(url, verify="/etc/ssl/internal-ca.pem", timeout=5)
    # ruleid: python-requests-verify-disabled
    context = ssl._create_unverified_context()
    return response, checked, context
