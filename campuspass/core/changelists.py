"""Admin change lists whose rows cost little to draw (issue 13).

A registry search that matches a common name fills a page of 50 rows; Django's admin then spent more
time drawing them than searching (docs/decisions/0038, addendum 2): per row it rendered the action
checkbox through the form-widget templates, and for the row's link it reversed the change URL and
resolved it again to merge the list's filters into it. ``LightRowsMixin`` draws the same HTML
without either: the checkbox is one ``format_html`` and the link is the change URL reversed and
given the list's filters once per page, with each row's key put in. A first page that holds the
whole result is not counted separately.
"""

from __future__ import annotations

from urllib.parse import quote as url_quote

from django.contrib.admin import helpers
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import quote
from django.contrib.admin.views.main import ChangeList
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _

_KEY = "0cp0key0"  # stands for the row's key in the page's one reversed change URL


class LightChangeList(ChangeList):
    """The change list whose row links are built from one reversed URL per page.

    Django merges the list's filters into each row's link with ``add_preserved_filters``, which
    resolves the link's path again for every row. Here the filters are merged once into the page's
    change URL (``row_url``) and the rows' links carry them; ``preserved_filters`` is left empty for
    the row drawing, its only reader."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.row_filters = self.preserved_filters
        self.preserved_filters = ""
        self._row_url: tuple[str, str] | None = None

    def get_results(self, request):
        """The first page is read first, one row more than it shows: when that is the whole
        result (a search's usual answer) the rows are the count and no COUNT statement is sent;
        otherwise Django counts as before and the page's rows are the ones already read."""
        if self.page_num != 1 or self.show_all or self.list_editable:
            return super().get_results(request)
        rows = list(self.queryset[: self.list_per_page + 1])
        if len(rows) > self.list_per_page:
            super().get_results(request)
            self.result_list = rows[: self.list_per_page]
            return None
        self.paginator = self.model_admin.get_paginator(request, self.queryset, self.list_per_page)
        self.result_count = len(rows)
        self.show_full_result_count = self.model_admin.show_full_result_count
        self.full_result_count = self.root_queryset.count() if self.show_full_result_count else None
        self.show_admin_actions = not self.show_full_result_count or bool(self.full_result_count)
        self.result_list = rows
        self.can_show_all = self.result_count <= self.list_max_show_all
        self.multi_page = False
        return None

    def url_for_result(self, result):
        pk = getattr(result, self.pk_attname)
        if not isinstance(pk, int):  # a key that reverse() would escape: Django's way, row by row
            url = super().url_for_result(result)
            return add_preserved_filters({"preserved_filters": self.row_filters, "opts": self.opts}, url)
        if self._row_url is None:
            url = reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
                args=(_KEY,),
                current_app=self.model_admin.admin_site.name,
            )
            url = add_preserved_filters({"preserved_filters": self.row_filters, "opts": self.opts}, url)
            head, _key, tail = url.partition(_KEY)
            self._row_url = (head, tail)
        head, tail = self._row_url
        return f"{head}{url_quote(str(quote(pk)))}{tail}"


class LightRowsMixin:
    """For a ModelAdmin: the light change list and a checkbox drawn without the widget templates
    (the same HTML as ``forms.CheckboxInput``'s)."""

    def get_changelist(self, request, **kwargs):
        return LightChangeList

    def action_checkbox(self, obj):
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            str(obj.pk),
            format_html(_("Select this object for an action - {}"), str(obj)),
        )
