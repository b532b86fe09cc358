"""Warm the application in gunicorn's master before it forks its workers (issue 13).

gunicorn loads the WSGI application once in its master (`preload_app`) and forks the workers from
it, and replaces each worker after `max_requests` requests. Django does most of its one-time work
lazily, on a process's first requests: importing the URLconf and every view behind it, compiling
each template the first time it is rendered, loading the translation catalogue. In a fresh worker
the first staff page measured 730 ms against 2–3 ms for the next one, and the requests queued
behind it on that worker waited as long — a recycled worker was a latency spike every few thousand
requests. Done here once, in the master, that work is inherited by every worker the master forks.

Nothing here opens a database connection (templates are compiled, never rendered); any connection
that something opened anyway is closed before returning, so no worker inherits a socket."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import connections
from django.template import TemplateDoesNotExist, TemplateSyntaxError, engines
from django.urls import NoReverseMatch, URLResolver, get_resolver, reverse
from django.utils import translation

logger = logging.getLogger(__name__)

TEMPLATE_SUFFIXES = (".html", ".txt")


def template_names() -> list[str]:
    """Every template of the project's template directories and its apps' `templates` folders, by
    the name a view asks for (relative to its folder). Django's own and third-party apps' are
    included: the admin's pages are rendered from them."""
    folders = [Path(folder) for engine in settings.TEMPLATES for folder in engine.get("DIRS", [])]
    folders += [Path(config.path) / "templates" for config in apps.get_app_configs()]
    names: set[str] = set()
    for folder in folders:
        if folder.is_dir():
            names.update(
                path.relative_to(folder).as_posix()
                for path in folder.rglob("*")
                if path.suffix in TEMPLATE_SUFFIXES and path.is_file()
            )
    return sorted(names)


def _walk(resolver: URLResolver) -> int:
    """Populate a resolver and every resolver included in it (namespaced ones are populated only
    when first used), compiling each pattern's regular expression; the number of URL patterns."""
    resolver.reverse_dict  # noqa: B018 - populates it (imports its URLconf and so its views)
    count = 0
    for pattern in resolver.url_patterns:
        pattern.pattern.regex  # noqa: B018 - compiled on first access, per language
        count += _walk(pattern) if isinstance(pattern, URLResolver) else 1
    return count


def _reverse_namespaces(resolver: URLResolver, parents: str = "") -> int:
    """`{% url 'ns:name' %}` reverses through a resolver built and populated for the namespace on
    first use (django.urls.resolvers.get_ns_resolver, cached): build each one, with a name that no
    URL has. The number of namespaces."""
    count = 0
    for namespace, (_, included) in resolver.namespace_dict.items():
        path = f"{parents}{namespace}:"
        with contextlib.suppress(NoReverseMatch):
            reverse(f"{path}warm-up-no-such-url")
        count += 1 + _reverse_namespaces(included, path)
    return count


def warm_up() -> dict[str, int]:
    """Import every view (through the URLconf), compile every template into the engines' cached
    loaders, load the default language's catalogue and run each app's own `warm_up()` (its
    AppConfig's, where it has one). Returns what was done (for the log)."""
    with translation.override(settings.LANGUAGE_CODE):
        urls = _walk(get_resolver())
        namespaces = _reverse_namespaces(get_resolver())
        translation.gettext("Home")  # loads the catalogue
        for code, _ in settings.LANGUAGES:  # LocaleMiddleware's checks (cached: they scan the disk)
            translation.check_for_language(code)
        translation.get_supported_language_variant(settings.LANGUAGE_CODE)
    hooks = 0
    for config in apps.get_app_configs():  # what an app itself loads lazily on a hot path
        warm = getattr(config, "warm_up", None)
        if callable(warm):
            try:
                warm()
                hooks += 1
            except Exception:  # noqa: BLE001 - never a reason not to start: it happens on first use
                logger.warning("%s: not warmed up before forking", config.label, exc_info=True)
    compiled = failed = 0
    for engine in engines.all():
        for name in template_names():
            try:
                engine.get_template(name)
                compiled += 1
            except (TemplateDoesNotExist, TemplateSyntaxError):
                # Another engine's template, or a fragment that is not meant to stand alone.
                failed += 1
            except Exception:  # noqa: BLE001 - e.g. a third-party file that is not UTF-8
                # Never a reason not to start: that template compiles on first use, as before.
                logger.warning("template %s not compiled before forking", name, exc_info=True)
                failed += 1
    connections.close_all()
    done = {"templates": compiled, "skipped": failed, "urls": urls, "namespaces": namespaces, "apps": hooks}
    logger.info("warmed up before forking: %s", done)
    return done
