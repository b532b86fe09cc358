"""The session engine used with Redis (``SESSION_ENGINE`` when ``REDIS_URL`` is set; decision 0037).

Django's ``cached_db`` store, so that a page reads its session from Redis and the database keeps
sessions across a Redis restart, with two statements less per stored session (issue 13):

- a new session key is not looked up before it is used: 32 random characters of 36 symbols do not
  collide in practice, and the INSERT still refuses a duplicate (``CreateError``: Django's
  ``create()`` then draws another key);
- a session written outside any transaction is one INSERT or UPDATE in autocommit, not a
  BEGIN … COMMIT around it (inside a transaction Django's own savepoint is kept).
"""

from __future__ import annotations

from django.contrib.sessions.backends import cached_db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, UpdateError
from django.db import DatabaseError, IntegrityError, connections, router
from django.utils.crypto import get_random_string


class SessionStore(cached_db.SessionStore):
    def _get_new_session_key(self) -> str:
        return get_random_string(32, VALID_KEY_CHARS)

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return self.create()
        alias = router.db_for_write(self.model)
        if connections[alias].in_atomic_block:
            return super().save(must_create)
        data = self._get_session(no_load=must_create)
        obj = self.create_model_instance(data)
        try:
            obj.save(force_insert=must_create, force_update=not must_create, using=alias)
        except IntegrityError:
            if must_create:
                raise CreateError from None
            raise
        except DatabaseError:
            if not must_create:
                raise UpdateError from None
            raise
        try:
            self._cache.set(self.cache_key, self._session, self.get_expiry_age())
        except Exception:  # noqa: BLE001 - as Django's cached_db: the database has it
            cached_db.logger.exception("Error saving to cache (%s)", self._cache)
        return None
