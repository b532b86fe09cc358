"""Development defaults: the one-command demo (`make run`)."""

import os

from .base import *  # noqa: F403
from .base import VAR_DIR, env_bool

DEBUG = env_bool("DEBUG", True)
# A development key that is stable across restarts but never used in production (production.py
# refuses to start without SECRET_KEY).
if not SECRET_KEY:  # noqa: F405
    _key_file = VAR_DIR / "dev-secret-key"
    if not _key_file.exists():
        import secrets

        VAR_DIR.mkdir(parents=True, exist_ok=True)
        _key_file.write_text(secrets.token_urlsafe(50))
        os.chmod(_key_file, 0o600)
    SECRET_KEY = _key_file.read_text().strip()
