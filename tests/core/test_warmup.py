"""Issue 13: the application warms up where it is loaded (gunicorn's master, before forking), so a
fresh or recycled worker does not compile templates and import views on its first requests."""

import importlib

from django.template import engines
from django.urls import clear_url_caches, resolvers, reverse

from campuspass.core import warmup


def cached_names() -> set[str]:
    loader = engines["django"].engine.template_loaders[0]  # the cached loader (DEBUG off and on)
    return set(loader.get_template_cache)


def test_warm_up_compiles_every_template_without_the_database(monkeypatch):
    closed = []
    monkeypatch.setattr(warmup.connections, "close_all", lambda: closed.append(1))
    engines["django"].engine.template_loaders[0].reset()
    assert "selfservice/home.html" not in cached_names()
    # No django_db mark: pytest-django refuses any query, so this also shows the warm-up needs none.
    done = warmup.warm_up()
    names = cached_names()
    for name in ("selfservice/home.html", "backoffice/review/queue.html", "admin/change_list.html"):
        assert name in names, name
    assert done["templates"] == len(names) and done["templates"] > 100
    assert done["urls"] > 100  # the admin's and every namespaced URLconf's too
    assert closed == [1]  # whatever something opened: no forked worker inherits a socket


def test_template_names_are_the_names_views_ask_for():
    names = warmup.template_names()
    assert "selfservice/home.html" in names and "admin/base_site.html" in names
    assert not any(name.startswith("/") or "\\\\" in name for name in names)
    assert all(name.endswith((".html", ".txt")) for name in names)


def test_the_wsgi_module_warms_up_only_where_the_settings_say(settings, monkeypatch):
    calls = []
    monkeypatch.setattr(warmup, "warm_up", lambda: calls.append(1))
    import campuspass.wsgi

    settings.WARM_UP_ON_LOAD = False
    importlib.reload(campuspass.wsgi)
    assert calls == []
    settings.WARM_UP_ON_LOAD = True
    importlib.reload(campuspass.wsgi)
    assert calls == [1]


def test_production_warms_up_by_default():
    source = (warmup.settings.BASE_DIR / "campuspass" / "settings" / "production.py").read_text()
    assert 'WARM_UP_ON_LOAD = env_bool("WARM_UP_ON_LOAD", True)' in source


def test_after_the_warm_up_reversing_a_namespaced_url_builds_no_resolver(monkeypatch):
    clear_url_caches()  # as in a process that has served nothing yet
    warmup.warm_up()
    populated = []
    original = resolvers.URLResolver._populate
    monkeypatch.setattr(
        resolvers.URLResolver, "_populate", lambda self: populated.append(self) or original(self)
    )
    assert reverse("selfservice:lookup") and reverse("backoffice:dashboard") and reverse("admin:index")
    assert populated == []  # in a fresh worker each of these built and populated a resolver


def test_a_template_that_fails_to_compile_never_stops_the_start(monkeypatch, caplog):
    engine = engines["django"]
    real = engine.get_template

    def broken(name):
        if name == "selfservice/home.html":
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "not UTF-8")
        return real(name)

    monkeypatch.setattr(engine, "get_template", broken)
    done = warmup.warm_up()
    assert done["skipped"] >= 1 and done["templates"] > 100
    assert "selfservice/home.html" in caplog.text


def test_the_payment_simulators_key_is_loaded_before_forking(settings, tmp_path, monkeypatch):
    """An app's own warm-up (its AppConfig.warm_up): the payments app loads the simulator's key
    pair, which each worker otherwise read on its first payment notification."""
    from campuspass.payments.simulator import keys

    settings.PAYMENT_PROVIDER = "simulator"
    settings.PAYMENT_SIMULATOR_DIR = tmp_path / "paysim"
    monkeypatch.setattr(keys, "_cache", {})
    monkeypatch.setattr(warmup.connections, "close_all", lambda: None)
    done = warmup.warm_up()
    assert done["apps"] >= 1
    assert str(tmp_path / "paysim" / keys.KEYS_FILE) in keys._cache


def test_an_app_warm_up_that_fails_does_not_stop_the_start(monkeypatch, caplog):
    from django.apps import apps

    config = apps.get_app_config("payments")

    def broken():
        raise OSError("no such directory")

    monkeypatch.setattr(config, "warm_up", broken, raising=False)
    monkeypatch.setattr(warmup.connections, "close_all", lambda: None)
    done = warmup.warm_up()
    assert done["templates"] > 100
    assert "payments: not warmed up before forking" in caplog.text
