"""`field__any=[…]`: the rows whose field is one of the values, as `field__in=[…]` asks, with the values
sent to PostgreSQL as one array parameter (`field = ANY(%s)`) instead of one parameter each (issue 13).

A search collects up to 200 staff members' and vehicles' keys (registry.selectors) and asks for the
rows of any of them. As `IN (%s, %s, …)` every key was a parameter of its own: Django prepared each,
and psycopg, which keeps the parsed form of a statement only for at most 50 parameters, parsed the
whole statement again and quoted each value, twice per page (the rows and their count), 2–4 ms of the
admin pass list's 22 ms. PostgreSQL plans `col IN (1, 2, 3)` as `col = ANY('{1,2,3}')` anyway, so the
plan does not change. Elsewhere (SQLite) the lookup is `IN` as before."""

from __future__ import annotations

from django.core.exceptions import EmptyResultSet
from django.db.models import Field, ForeignObject
from django.db.models.fields.related_lookups import RelatedIn
from django.db.models.lookups import In
from django.utils.datastructures import OrderedSet


class _ArrayParameter:
    """PostgreSQL's form of an `In` lookup over a list of values: `lhs = ANY(%s)`, one parameter."""

    lookup_name = "any"

    def as_postgresql(self, compiler, connection):
        if not self.rhs_is_direct_value():  # a subquery: nothing to gain, `IN (SELECT …)` as before
            return super().as_sql(compiler, connection)
        values = OrderedSet(self.rhs)
        values.discard(None)  # NULL equals nothing, as `__in` leaves it out
        if not values:
            raise EmptyResultSet
        field = self.lhs.output_field
        prepared = [field.get_db_prep_value(value, connection, prepared=True) for value in values]
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", (*lhs_params, prepared)


@Field.register_lookup
class AnyOf(_ArrayParameter, In):
    """`field__any=[…]` on a column."""


@ForeignObject.register_lookup
class RelatedAnyOf(_ArrayParameter, RelatedIn):
    """`fk__any=[…]` / `fk_id__any=[…]` on a foreign key (whose lookups are the related ones only)."""
