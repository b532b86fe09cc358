"""System checks: ID photos must never be reachable as static or media files."""

from django.core import checks
from django.core.exceptions import ImproperlyConfigured


@checks.register(checks.Tags.security, deploy=False)
def check_private_storage(app_configs=None, **kwargs):
    from .storage import photo_store

    try:
        location = photo_store().location
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="verification.E001")]
    except Exception as exc:  # a misconfigured STORAGES entry
        return [checks.Error(f"the ID-photo store cannot be opened: {exc}", id="verification.E002")]
    del location
    return []
