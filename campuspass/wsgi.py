import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "campuspass.settings.dev")
application = get_wsgi_application()

if getattr(settings, "WARM_UP_ON_LOAD", False):
    # Once per process that loads the application: gunicorn's master with preload_app, so every
    # worker it forks (and each one that replaces a recycled worker) starts warm.
    from campuspass.core.warmup import warm_up

    warm_up()
