"""The private store of ID photos, behind Django's Storage API (``storages["id_photos"]``).

A ``FileSystemStorage`` with what a store of personal documents needs (decision 0031):
- its folder is ``PRIVATE_STORAGE_ROOT/id-photos`` unless ``OPTIONS["location"]`` says otherwise,
  read when used (so the test settings and ``override_settings`` apply), and it refuses to work
  inside ``STATIC_ROOT`` or ``MEDIA_ROOT``;
- files 0600 and folders 0700 whatever the umask — or, with ``group_readable`` (set when nginx
  sends the photos itself, ``ID_PHOTO_X_ACCEL_PREFIX``), 0640 and 0750 so that nginx's user, the
  only other member of the store's group, can read them; a file appears under its name only when it is
  complete and on disk (written to a temporary name, fsynced, then renamed), so another app host
  reading the same shared folder never sees half a photo;
- no URL: ``url()`` raises — a photo reaches a browser only through the photo service's view;
- a symbolic link inside the folder is never followed.

In production every app and worker host mounts the same shared folder (NFS) at
``PRIVATE_STORAGE_ROOT``; several hosts then read each other's photos (tests/verification/
test_photo_store.py runs two processes on one folder).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files import File
from django.core.files.storage import FileSystemStorage, storages
from django.utils.deconstruct import deconstructible

STORE_ALIAS = "id_photos"
SUBDIR = "id-photos"


@deconstructible(path="campuspass.verification.storage.PrivatePhotoStorage")
class PrivatePhotoStorage(FileSystemStorage):
    def __init__(self, location=None, group_readable=False, **kwargs):
        kwargs.pop("base_url", None)  # never a URL
        kwargs.pop("file_permissions_mode", None)
        kwargs.pop("directory_permissions_mode", None)
        super().__init__(
            location=location,
            file_permissions_mode=0o640 if group_readable else 0o600,
            directory_permissions_mode=0o750 if group_readable else 0o700,
            **kwargs,
        )

    # FileSystemStorage caches these from MEDIA_ROOT; ours come from PRIVATE_STORAGE_ROOT, each time.
    @property
    def base_location(self):
        if self._location:
            return self._location
        return str(Path(settings.PRIVATE_STORAGE_ROOT) / SUBDIR)

    @property
    def location(self):
        root = Path(os.path.abspath(self.base_location))
        for setting in ("STATIC_ROOT", "MEDIA_ROOT"):
            public = getattr(settings, setting, None)
            if public:
                public = Path(public).resolve()
                if root.resolve() == public or root.resolve().is_relative_to(public):
                    raise ImproperlyConfigured(f"the ID-photo store must not be inside {setting}")
        return str(root)

    @property
    def base_url(self):
        return None

    def url(self, name):
        raise NotImplementedError("ID photos have no URL; they are served by the photo view only")

    def _open(self, name, mode="rb"):
        if "w" in mode or "a" in mode or "+" in mode:
            raise ValueError("ID photos are written only by save()")
        path = self.path(name)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        return File(os.fdopen(fd, "rb"), name=name)

    def _save(self, name, content):
        full_path = Path(self.path(name))
        folder = full_path.parent
        if not folder.is_dir():
            folder.mkdir(mode=self.directory_permissions_mode, parents=True, exist_ok=True)
            os.chmod(folder, self.directory_permissions_mode)  # whatever the umask
        temp = full_path.with_name(f".{full_path.name}.{secrets.token_hex(4)}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(temp, flags, 0o600)
        try:
            os.fchmod(fd, self.file_permissions_mode)  # whatever the umask
            with os.fdopen(fd, "wb") as handle:
                if hasattr(content, "seek"):
                    content.seek(0)
                for chunk in content.chunks():
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            # link() refuses an existing name: a photo is never overwritten (names are random).
            os.link(temp, full_path)
        finally:
            temp.unlink(missing_ok=True)
        return name

    def exists(self, name):
        path = Path(self.path(name))
        return path.exists() or path.is_symlink()


def photo_store() -> PrivatePhotoStorage:
    """The configured ID-photo store (``STORAGES["id_photos"]``)."""
    return storages[STORE_ALIAS]
