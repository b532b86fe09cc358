"""Pages of long lists whose rows are expensive to read (issue 13)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from django.core.exceptions import EmptyResultSet
from django.core.paginator import Page, Paginator
from django.db import connections
from django.db.models import QuerySet


class CappedPaginator(Paginator):
    """Counts at most ``cap`` rows (``SELECT COUNT(*) FROM (… LIMIT cap)``): a million-row list is
    not counted in full on every page (issue 13). Past the cap the list shows its first pages and
    says "10000 条以上"; a narrower search or filter counts exactly."""

    cap = 10_000

    @cached_property
    def _bounded(self) -> int:
        """The rows, counted up to one past the cap (which tells exactly 10,000 from more)."""
        object_list = self.object_list
        if hasattr(object_list, "order_by"):
            return object_list.order_by()[: self.cap + 1].count()
        return len(object_list)

    @property
    def count(self) -> int:
        return min(self._bounded, self.cap) if hasattr(self.object_list, "order_by") else self._bounded

    @property
    def is_capped(self) -> bool:
        return hasattr(self.object_list, "order_by") and self._bounded > self.cap


def page_by_ids(queryset: QuerySet, number, per_page: int, count: Tally | None = None) -> Page:
    """The page of `queryset` numbered `number` (Django's `get_page` rules), its rows read in two steps:
    first the page's primary keys in the queryset's order (only the filtering and ordering columns),
    then the rows with everything the queryset joins and annotates, for those keys alone.

    `count`: the list's rows as already counted (`count_each`), so they are not counted again; a
    capped count pages through the first `count.count` rows and `page.paginator.is_capped` says so.

    Asked in one statement, PostgreSQL joined every candidate row of a 500,000-order table to its
    payment, order and staff member before it sorted and kept 50 (0.7 s for the refunds screen)."""
    paginator = Paginator(queryset.values_list("pk", flat=True), per_page)
    paginator.is_capped = False
    if count is not None:
        paginator.count, paginator.is_capped = count.count, count.capped  # the cached_property, given
    page = paginator.get_page(number)
    ids = list(page.object_list)
    rows = {row.pk: row for row in queryset.order_by().filter(pk__in=ids)}
    page.object_list = [rows[pk] for pk in ids if pk in rows]
    return page


@dataclass(frozen=True)
class Tally:
    """A count read up to a cap: `count` is at most the cap; `capped` says there are more rows.
    Shown as "999+" when capped; true when there is any row."""

    count: int
    capped: bool = False

    def __str__(self) -> str:
        return f"{self.count}+" if self.capped else str(self.count)

    def __bool__(self) -> bool:
        return self.count > 0


def count_each(querysets: Mapping[str, QuerySet], cap: int | Mapping[str, int]) -> dict[str, Tally]:
    """Every queryset's rows counted up to one past its cap, all in ONE statement:
    ``SELECT (SELECT COUNT(*) FROM (… ORDER BY … LIMIT cap+1)), (…), …``.

    Each inner read keeps its queryset's order, so an index that gives the order bounds it to
    cap + 1 index entries whatever the table's size (a list's order is the index it is read by);
    a count is never a scan of every row of a big table, and a screen with several counts (tabs,
    a queue's header) pays one round trip. `cap` is one number for all or one per name."""
    if not querysets:
        return {}
    caps = {name: cap if isinstance(cap, int) else cap[name] for name in querysets}
    parts, params, alias = [], [], None
    for i, (name, queryset) in enumerate(querysets.items()):
        alias = alias or queryset.db
        inner = queryset.values("pk")[: caps[name] + 1]
        try:
            sql, inner_params = inner.query.sql_with_params()
        except EmptyResultSet:  # .none(), or a filter nothing can match: no rows, nothing to ask
            parts.append("0")
            continue
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS counted_{i})")  # noqa: S608 -- Django-compiled SQL, values as parameters
        params.extend(inner_params)
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        row = cursor.fetchone()
    return {name: Tally(min(n, caps[name]), n > caps[name]) for name, n in zip(querysets, row, strict=True)}


MATCH_LIMIT = 10_000


def matching(queryset: QuerySet, condition, limit: int = MATCH_LIMIT) -> QuerySet:
    """`queryset` restricted to the rows matching `condition`, found first on their own: the
    condition's keys in a LIMITed subquery (which PostgreSQL plans apart, e.g. a BitmapOr of its
    indexes), the list's ORDER BY … LIMIT then sorts those few rows. Filtered in one WHERE, an OR of
    indexed conditions under `ORDER BY year DESC, number LIMIT 51` was planned as a walk of the
    ordering index filtering 1,275,000 passes (200 ms for a phone's last four digits; issue 13).
    At most `limit` matches (the capped paginator's cap)."""
    keys = queryset.model._default_manager.filter(condition).order_by().values("pk")[:limit]
    return queryset.filter(pk__in=keys)
