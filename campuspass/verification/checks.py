"""System checks: ID photos must never be reachable as static or media files."""

from django.core import checks
from django.core.exceptions import ImproperlyConfigured


@checks.register(checks.Tags.security, deploy=False)
def check_private_storage(app_configs=None, **kwargs):
    from .photos import photo_root

    try:
        photo_root()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="verification.E001")]
    return []
