# ruleid: django-allowed-hosts-wildcard
ALLOWED_HOSTS = ["*"]

# ok: django-allowed-hosts-wildcard
ALLOWED_HOSTS = ["shop.example.com", "www.shop.example.com"]
