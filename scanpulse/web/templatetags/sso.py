from django import template

from scanpulse.tenancy.sso import sso_enabled as _sso_enabled

register = template.Library()


@register.simple_tag
def sso_enabled() -> bool:
    """Whether the sign-in page offers single sign-on."""
    return _sso_enabled()
