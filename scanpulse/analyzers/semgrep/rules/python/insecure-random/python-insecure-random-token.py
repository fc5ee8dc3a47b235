import random
import secrets
import string


def new_reset(user):
    # ruleid: python-insecure-random-token
    reset_token = "".join(random.choice(string.ascii_letters) for _ in range(32))
    # ruleid: python-insecure-random-token
    user.api_key = "%032x" % random.getrandbits(128)
    # ok: python-insecure-random-token
    session_token = secrets.token_urlsafe(32)
    # ok: python-insecure-random-token
    delay = random.uniform(0.5, 1.5)
    return reset_token, session_token, delay


def shuffle_deck(cards):
    # ok: python-insecure-random-token
    order = random.sample(cards, len(cards))
    return order
