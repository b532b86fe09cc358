"""The private ID-photo store behind Django's Storage API (decision 0031): what several app hosts
sharing one folder (an NFS mount in production) need — each host's process sees the others'
photos, files are complete when they appear, private, and have no URL."""

import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path

from django.core.files.base import ContentFile

from campuspass.verification.storage import PrivatePhotoStorage

ROOT = Path(__file__).resolve().parents[2]

HOST = """
import hashlib, os, sys
from pathlib import Path
os.environ["DJANGO_SETTINGS_MODULE"] = "campuspass.settings.test"
import django
django.setup()
from django.conf import settings
from django.core.files.base import ContentFile
settings.PRIVATE_STORAGE_ROOT = Path(sys.argv[1])   # this host's mount of the shared store
from campuspass.verification.storage import photo_store
store = photo_store()
action, name = sys.argv[2], sys.argv[3]
if action == "write":
    store.save(name, ContentFile(sys.argv[4].encode() * 1000))
else:
    with store.open(name) as handle:
        print(hashlib.sha256(handle.read()).hexdigest())
"""


def host(mount: Path, *args: str) -> str:
    run = subprocess.run(
        [sys.executable, "-c", HOST, str(mount), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST")},
    )
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


def test_two_app_processes_on_one_shared_store_read_each_others_photos(tmp_path):
    shared = tmp_path / "shared-store"
    # Two "hosts": separate processes, each with its own storage instance, mounting the same folder
    # (here through two different paths, as two hosts would).
    mount_b = tmp_path / "host-b-mount"
    shared.mkdir()
    mount_b.symlink_to(shared, target_is_directory=True)
    a_name, b_name = "a" * 32 + ".jpg", "b" * 32 + ".jpg"
    host(shared, "write", a_name, "from host a ")
    host(mount_b, "write", b_name, "from host b ")
    assert host(mount_b, "read", a_name) == hashlib.sha256(b"from host a " * 1000).hexdigest()
    assert host(shared, "read", b_name) == hashlib.sha256(b"from host b " * 1000).hexdigest()
    for name in (a_name, b_name):
        path = shared / "id-photos" / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((shared / "id-photos").stat().st_mode) == 0o700
    assert not [p for p in (shared / "id-photos").iterdir() if p.name.endswith(".tmp")]


def test_two_storage_instances_in_one_process_share_the_folder(tmp_path):
    one, two = PrivatePhotoStorage(location=tmp_path), PrivatePhotoStorage(location=tmp_path)
    one.save("c" * 32 + ".jpg", ContentFile(b"photo"))
    assert two.exists("c" * 32 + ".jpg")
    with two.open("c" * 32 + ".jpg") as handle:
        assert handle.read() == b"photo"
    two.delete("c" * 32 + ".jpg")
    assert not one.exists("c" * 32 + ".jpg")


def test_a_photo_is_never_overwritten_and_never_seen_half_written(tmp_path, monkeypatch):
    store = PrivatePhotoStorage(location=tmp_path)
    name = "d" * 32 + ".jpg"
    seen = []
    real_fsync = os.fsync

    def fsync_and_look(fd):
        # While the bytes are being written, the photo's name does not exist yet.
        seen.append((tmp_path / name).exists())
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_and_look)
    assert store.save(name, ContentFile(b"first")) == name
    assert seen == [False]
    # The same name again gets another name (Storage API), the first file is untouched.
    other = store.save(name, ContentFile(b"second"))
    assert other != name and (tmp_path / name).read_bytes() == b"first"


def test_with_nginx_delivery_the_files_are_readable_by_the_stores_group_only(tmp_path):
    store = PrivatePhotoStorage(location=tmp_path / "id-photos", group_readable=True)
    store.save("e" * 32 + ".jpg", ContentFile(b"photo"))
    assert stat.S_IMODE((tmp_path / "id-photos" / ("e" * 32 + ".jpg")).stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "id-photos").stat().st_mode) == 0o750


def test_the_settings_make_the_store_group_readable_when_nginx_sends_the_photos():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    probe = (
        "import os; os.environ['DJANGO_SETTINGS_MODULE']='campuspass.settings.dev'; import django; django.setup();"
        "from django.conf import settings; print(settings.STORAGES['id_photos']['OPTIONS']['group_readable'])"
    )
    for prefix, expected in (("/_protected/id-photos/", "True"), ("", "False")):
        run = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=ROOT,
            env={**env, "ID_PHOTO_X_ACCEL_PREFIX": prefix},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.stdout.strip() == expected, run.stderr
