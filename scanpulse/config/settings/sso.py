"""Single sign-on settings (OpenID Connect; docs/sso.md) and the authentication backends."""

from __future__ import annotations

from .environment import env

# The provider's issuer URL (its discovery document is read from
# ISSUER/.well-known/openid-configuration); empty = no single sign-on.
SCANPULSE_OIDC_ISSUER = env.str("SCANPULSE_OIDC_ISSUER", default="")
SCANPULSE_OIDC_CLIENT_ID = env.str("SCANPULSE_OIDC_CLIENT_ID", default="")
SCANPULSE_OIDC_CLIENT_SECRET = env.str("SCANPULSE_OIDC_CLIENT_SECRET", default="")
SCANPULSE_OIDC_SCOPES = env.str("SCANPULSE_OIDC_SCOPES", default="openid email profile")
SCANPULSE_OIDC_SIGN_ALGORITHM = env.str("SCANPULSE_OIDC_SIGN_ALGORITHM", default="RS256")
# A CA bundle (PEM file) to verify the provider's certificate with; empty = the system's.
SCANPULSE_OIDC_CA_BUNDLE = env.str("SCANPULSE_OIDC_CA_BUNDLE", default="")
SCANPULSE_OIDC_TIMEOUT_SECONDS = env.float("SCANPULSE_OIDC_TIMEOUT_SECONDS", default=10.0)
SCANPULSE_OIDC_CLOCK_SKEW_SECONDS = env.int("SCANPULSE_OIDC_CLOCK_SKEW_SECONDS", default=60)
# Only addresses the provider marks verified (email_verified) are trusted.
SCANPULSE_OIDC_REQUIRE_VERIFIED_EMAIL = env.bool(
    "SCANPULSE_OIDC_REQUIRE_VERIFIED_EMAIL", default=True
)
# Who comes in, and where: email domain → "organization:role", group → "organization:role"
# (JSON objects). Someone matching no rule is refused.
SCANPULSE_OIDC_DOMAINS: dict[str, str] = env.json("SCANPULSE_OIDC_DOMAINS", default={})
SCANPULSE_OIDC_GROUPS: dict[str, str] = env.json("SCANPULSE_OIDC_GROUPS", default={})
SCANPULSE_OIDC_GROUPS_CLAIM = env.str("SCANPULSE_OIDC_GROUPS_CLAIM", default="groups")

AUTHENTICATION_BACKENDS = [
    "scanpulse.tenancy.sso.PasswordBackend",
    "scanpulse.tenancy.sso.OidcBackend",
]
# mozilla-django-oidc's own settings, derived from the above (the endpoints come from
# discovery, see scanpulse.tenancy.sso).
OIDC_RP_CLIENT_ID = SCANPULSE_OIDC_CLIENT_ID
OIDC_RP_CLIENT_SECRET = SCANPULSE_OIDC_CLIENT_SECRET
OIDC_RP_SCOPES = SCANPULSE_OIDC_SCOPES
OIDC_RP_SIGN_ALGO = SCANPULSE_OIDC_SIGN_ALGORITHM
OIDC_USE_PKCE = True
OIDC_PKCE_CODE_CHALLENGE_METHOD = "S256"
OIDC_USE_NONCE = True
OIDC_VERIFY_SSL: str | bool = SCANPULSE_OIDC_CA_BUNDLE or True
OIDC_TIMEOUT = SCANPULSE_OIDC_TIMEOUT_SECONDS
OIDC_AUTHENTICATION_CALLBACK_URL = "web:sso-callback"
OIDC_STORE_ID_TOKEN = False
OIDC_STORE_ACCESS_TOKEN = False
