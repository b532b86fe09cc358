"""The session engine used with Redis (``SESSION_ENGINE`` when ``REDIS_URL`` is set; decision 0037).

Django's ``cached_db`` store, so that a page reads its session from Redis and the database keeps
sessions across a Redis restart, with two statements less per stored session (issue 13):

- a new session key is not looked up before it is used: 32 random characters of 36 symbols do not
  collide in practice, and the INSERT still refuses a duplicate (``CreateError``: Django's
  ``create()`` then draws another key);
- a session written outside any transaction is one INSERT or UPDATE in autocommit, not a
  BEGIN … COMMIT around it (inside a transaction Django's own savepoint is kept);
- a cycled key (the SMS code's grant, a sign-in) is written once, by the save that follows: the
  new key is INSERTed then, not INSERTed at once and UPDATEd by the middleware, and the old row is
  removed with one DELETE instead of a SELECT and a DELETE (the verification POST: 4 session
  statements → 2).
"""

from __future__ import annotations

from django.contrib.sessions.backends import cached_db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, UpdateError
from django.db import DatabaseError, IntegrityError, connections, router
from django.utils.crypto import get_random_string

from campuspass.core.bulk import delete_rows


class SessionStore(cached_db.SessionStore):
    def _get_new_session_key(self) -> str:
        return get_random_string(32, VALID_KEY_CHARS)

    _insert_on_save = False  # set by cycle_key: the new key has no row yet

    def cycle_key(self) -> None:
        """A new key for the same data (session fixation): the old session is deleted now, the new
        key is inserted by the next save (the middleware's, at the end of the request)."""
        data = self._session
        old = self.session_key
        self._session_key = self._get_new_session_key()
        self._session_cache = data
        self._insert_on_save = True
        self.modified = True
        if old:
            self.delete(old)

    def delete(self, session_key: str | None = None) -> None:
        """One DELETE (Django's db store reads the row first), then the cached copy."""
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        delete_rows(self.model.objects.using(router.db_for_write(self.model)).filter(session_key=session_key))
        self._cache.delete(self.cache_key_prefix + session_key)

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return self.create()
        if self._insert_on_save:
            self._insert_on_save = False
            try:
                return self.save(must_create=True)
            except CreateError:  # the drawn key was taken meanwhile: draw another, as create() does
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
