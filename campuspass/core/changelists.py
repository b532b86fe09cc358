"""Admin change lists whose rows cost little to draw (issue 13).

A registry search that matches a common name fills a page of 50 rows; Django's admin then spent more
time drawing them than searching (docs/decisions/0038, addendum 2): per row it rendered the action
checkbox through the form-widget templates, and for the row's link it reversed the change URL and
resolved it again to merge the list's filters into it. ``LightRowsMixin`` draws the same HTML
without either: the checkbox is one string of escaped parts and the link is the change URL reversed and
given the list's filters once per page, with each row's key put in. A first page that holds the
whole result is not counted separately, and its date drill-down (``date_hierarchy``) is read from its
rows instead of asking the database twice more for the same search (``light_date_hierarchy``).

The rows themselves are drawn by ``light_result_list`` (the ``{% light_result_list cl %}`` tag of
``admin/light_change_list.html``): the same cells as Django's ``items_for_result``, but each column is
read once per page (which attribute, which class, which empty display, whether it links), a cell's
display is computed once per distinct value of its column (a year, a status, a date repeat down a
page), and a row is handed to the template as one string instead of one per cell. A list with
editable fields (a formset) is left to Django.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from urllib.parse import quote as url_quote

from django.contrib.admin import helpers
from django.contrib.admin.templatetags import admin_list
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import display_for_field, display_for_value, lookup_field, quote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.db.models.constants import LOOKUP_SEP
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import conditional_escape, escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

_KEY = "0cp0key0"  # stands for the row's key in the page's one reversed change URL


class LightChangeList(ChangeList):
    """The change list whose row links are built from one reversed URL per page.

    Django merges the list's filters into each row's link with ``add_preserved_filters``, which
    resolves the link's path again for every row. Here the filters are merged once into the page's
    change URL (``row_url``) and the rows' links carry them; ``preserved_filters`` is left empty for
    the row drawing, its only reader."""

    # True once get_results has read the whole result as the first page (no second page exists)
    whole_result = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.row_filters = self.preserved_filters
        self.preserved_filters = ""
        self._row_url: tuple[str, str] | None = None
        self._row_link: tuple[str, str] | None = None

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
        self.whole_result = True
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

    def row_link(self, result) -> str:
        """The row's link as items_for_result writes it: ``url_for_result`` passed through
        ``add_preserved_filters`` (with the emptied ``preserved_filters``, which only re-encodes the
        query). For an integer key that second step is done once per page, on the URL with the key
        left out; raises NoReverseMatch as ``url_for_result`` does."""
        pk = getattr(result, self.pk_attname)
        context = {"preserved_filters": self.preserved_filters, "opts": self.opts}
        if not isinstance(pk, int):
            return add_preserved_filters(context, self.url_for_result(result))
        if self._row_link is None:
            self.url_for_result(result)  # the page's URL (self._row_url)
            head, tail = self._row_url
            head, _key, tail = add_preserved_filters(context, f"{head}{_KEY}{tail}").partition(_KEY)
            self._row_link = (head, tail)
        head, tail = self._row_link
        return f"{head}{url_quote(str(quote(pk)))}{tail}"


# A cell's display depends only on its value (and the request's language and time zone, fixed while a
# page is drawn) for values of these types: they are remembered per column for the page.
_SAME_DISPLAY = frozenset(
    {str, int, bool, float, decimal.Decimal, dt.date, dt.datetime, dt.time, uuid.UUID, type(None)}
)


class _Column:
    """One column of ``cl.list_display`` as ``items_for_result`` reads it, settled once per page.

    ``read`` is how a row's value is fetched when that does not depend on the row (a model field's
    attribute, the admin's or the list's callable); None for any other column, whose every cell goes
    through Django's own steps (``_generic_display``)."""

    def __init__(self, cl, index: int, name, first_row, link: bool, tag: str):
        self.name, self.link, self.tag = name, link, tag
        self.base = f"field-{admin_list._coerce_field_name(name, index)}"
        self.classes = [self.base]
        self.empty = cl.model_admin.get_empty_value_display()
        self.shown: dict = {}  # (type, value) -> (display, class attribute)
        self.field = self.read = None
        self.boolean = False
        self._settle(cl.model_admin, first_row)
        self.plain = _class_attribute(self.classes)  # the class attribute of this column's cells
        self.dated = _class_attribute([*self.classes, "nowrap"])  # of a plain value that is a date

    def _settle(self, model_admin, first_row) -> None:
        name = self.name
        try:
            field, attr, _value = lookup_field(name, first_row, model_admin)
        except ObjectDoesNotExist:
            return  # the first row cannot tell: every cell is read as Django reads it
        if field is not None:  # a model field: the value is the row's attribute of that name
            self.read = self._read_attribute
            if field.auto_created:
                return  # shown as a plain value (items_for_result: f.auto_created)
            self.field = field
            if isinstance(field, (models.DateField, models.TimeField, models.ForeignKey)):
                self.classes.append("nowrap")
        elif callable(name) or (hasattr(model_admin, name) and name != "__str__"):
            self.read = attr  # the same callable for every row
            self.empty = getattr(attr, "empty_value_display", self.empty)
            self.boolean = getattr(attr, "boolean", False)
            if name == "action_checkbox":
                self.classes = ["action-checkbox"]

    def _read_attribute(self, row):
        return getattr(row, self.name)

    def display(self, row, model_admin):
        """(what the cell shows, its class attribute), as items_for_result computes them."""
        if self.read is None:
            return _generic_display(self, row, model_admin)
        try:
            value = self.read(row)
        except ObjectDoesNotExist:
            return model_admin.get_empty_value_display(), _class_attribute([self.base])
        if isinstance(value, str) and value.strip() == "":
            value = ""
        field = self.field
        if field is not None and isinstance(field.remote_field, models.ManyToOneRel):
            related = getattr(row, field.name)  # a foreign key shows the related object
            return (self.empty if related is None else related), self.plain
        key = (type(value), value) if type(value) in _SAME_DISPLAY else None
        if key is not None and key in self.shown:
            return self.shown[key]
        if field is None:
            shown = display_for_value(value, self.empty, self.boolean)
            answer = (shown, self.dated if isinstance(value, (dt.date, dt.time)) else self.plain)
        else:
            answer = (display_for_field(value, field, self.empty, avoid_link=self.link), self.plain)
        if key is not None:
            self.shown[key] = answer
        return answer


def _class_attribute(classes: list[str]):
    return format_html(' class="{}"', " ".join(classes))


def _generic_display(column: _Column, row, model_admin):
    """A column whose reading depends on the row (an attribute path, a property): Django's steps."""
    classes = [column.base]
    empty = model_admin.get_empty_value_display()
    try:
        field, attr, value = lookup_field(column.name, row, model_admin)
    except ObjectDoesNotExist:
        return empty, _class_attribute(classes)
    empty = getattr(attr, "empty_value_display", empty)
    if isinstance(value, str) and value.strip() == "":
        value = ""
    if field is None or field.auto_created:
        if column.name == "action_checkbox":
            classes = ["action-checkbox"]
        boolean = getattr(attr, "boolean", False)
        if isinstance(attr, property) and hasattr(attr, "fget"):
            boolean = getattr(attr.fget, "boolean", False)
        shown = display_for_value(value, empty, boolean)
        if isinstance(value, (dt.date, dt.time)):
            classes.append("nowrap")
    else:
        if isinstance(field.remote_field, models.ManyToOneRel):
            related = getattr(row, field.name)
            shown = empty if related is None else related
        else:
            shown = display_for_field(value, field, empty, avoid_link=column.link)
        if isinstance(field, (models.DateField, models.TimeField, models.ForeignKey)):
            classes.append("nowrap")
    return shown, _class_attribute(classes)


def _columns(cl) -> list[_Column]:
    first_row = cl.result_list[0]
    columns, first = [], True
    for index, name in enumerate(cl.list_display):
        if cl.list_display_links is None:
            link = False
        elif first and not cl.list_display_links:
            link = True
        else:
            link = name in cl.list_display_links
        tag = "th" if link and first else "td"
        if link:
            first = False
        columns.append(_Column(cl, index, name, first_row, link, tag))
    return columns


def _rows(cl):
    """Each row of the page as one string: the cells items_for_result yields, joined."""
    if not cl.result_list:
        return []
    model_admin = cl.model_admin
    columns = _columns(cl)
    key_name = str(cl.to_field) if cl.to_field else cl.lookup_opts.pk.attname
    if isinstance(cl, LightChangeList):
        link_of = cl.row_link
    else:
        context = {"preserved_filters": cl.preserved_filters, "opts": cl.opts}
        link_of = lambda row: add_preserved_filters(context, cl.url_for_result(row))  # noqa: E731
    rows = []
    for row in cl.result_list:
        cells = []
        for column in columns:
            shown, class_attribute = column.display(row, model_admin)
            if column.link:
                try:
                    url = link_of(row)
                except NoReverseMatch:
                    shown_or_link = shown
                else:
                    popup = (
                        format_html(' data-popup-opener="{}"', row.serializable_value(key_name))
                        if cl.is_popup
                        else ""
                    )
                    shown_or_link = format_html('<a href="{}"{}>{}</a>', url, popup, shown)
                cells.append(
                    f"<{column.tag}{class_attribute}>{conditional_escape(shown_or_link)}</{column.tag}>"
                )
            else:
                cells.append(f"<td{class_attribute}>{conditional_escape(shown)}</td>")
        # every part of a cell is escaped above (conditional_escape, format_html)
        rows.append(admin_list.ResultList(None, [mark_safe("".join(cells))]))  # noqa: S308
    return rows


def light_result_list(cl) -> dict:
    """Django's ``result_list`` context (admin_list.result_list) with the rows drawn by ``_rows``."""
    if cl.formset is not None:
        return admin_list.result_list(cl)
    headers = list(admin_list.result_headers(cl))
    return {
        "cl": cl,
        "result_hidden_fields": [],
        "result_headers": headers,
        "num_sorted_fields": sum(1 for h in headers if h["sortable"] and h["sorted"]),
        "results": _rows(cl),
    }


class _PageDates:
    """The two questions Django's date drill-down asks of ``cl.queryset`` (``admin_list.date_hierarchy``:
    the first and last date, then the distinct years, months or days), answered from the rows of a
    page that holds the whole result, exactly as the database would answer them: NULLs left out,
    datetimes in the current time zone, truncated, in ascending order."""

    def __init__(self, rows, field_name: str, is_datetime: bool):
        values = (getattr(row, field_name) for row in rows)
        self.values = [v for v in values if v is not None]
        self.is_datetime = is_datetime

    def aggregate(self, *, first, last) -> dict:
        # Django asks for first=Min(field), last=Max(field); the values come back as the database
        # gives them (UTC when aware): date_hierarchy localises them itself
        return {"first": min(self.values, default=None), "last": max(self.values, default=None)}

    def datetimes(self, field_name: str, kind: str) -> list:
        part = {"year": {"month": 1, "day": 1}, "month": {"day": 1}, "day": {}}[kind]
        if self.is_datetime:
            clock = {"hour": 0, "minute": 0, "second": 0, "microsecond": 0}
            values = (timezone.localtime(v) if timezone.is_aware(v) else v for v in self.values)
            return sorted({v.replace(**part, **clock) for v in values})
        return sorted({v.replace(**part) for v in self.values})

    dates = datetimes  # a DateField's drill-down asks .dates(); the answer is the same


class _WholeResult:
    """``cl`` as date_hierarchy reads it, with ``queryset`` answered from the page's rows."""

    def __init__(self, cl, queryset: _PageDates):
        self._cl = cl
        self.queryset = queryset

    def __getattr__(self, name):
        return getattr(self._cl, name)


def light_date_hierarchy(cl) -> dict | None:
    """Django's ``date_hierarchy`` context. When the page holds the whole result (a search's usual
    answer; ``LightChangeList.whole_result``) and the drill-down is on a field of the listed model,
    its first and last dates and its years, months or days are read from the page's rows: a search
    of the order list no longer runs twice more (an aggregate, then the distinct dates). Otherwise
    Django asks the database, as before."""
    field_name = cl.date_hierarchy
    if not getattr(cl, "whole_result", False) or LOOKUP_SEP in field_name:
        return admin_list.date_hierarchy(cl)
    field = cl.model._meta.get_field(field_name)
    rows = _PageDates(cl.result_list, field.attname, isinstance(field, models.DateTimeField))
    return admin_list.date_hierarchy(_WholeResult(cl, rows))


class LightRowsMixin:
    """For a ModelAdmin: the light change list, its rows drawn by ``light_result_list``, and a
    checkbox drawn without the widget templates (the same HTML as ``forms.CheckboxInput``'s)."""

    change_list_template = "admin/light_change_list.html"

    def get_changelist(self, request, **kwargs):
        return LightChangeList

    def action_checkbox(self, obj):
        # format_html's steps, written out: the translated label is the format (not escaped), the
        # object's name is escaped into it, and the whole label is already safe in the outer tag
        label = _("Select this object for an action - {}").format(escape(str(obj)))
        return SafeString(
            f'<input type="checkbox" name="{escape(helpers.ACTION_CHECKBOX_NAME)}" value="{escape(str(obj.pk))}"'
            f' class="action-select" aria-label="{label}">'
        )
