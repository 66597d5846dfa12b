"""The contacts list's `search`: every word must match a name, business name, email or phone.

On PostgreSQL, trigram indexes on the exact SQL expressions these lookups render serve it
(crm/migrations/0003_scale_indexes.py): change a lookup here and the index there with it.
Lives in crm so filters (crm/contact_filters.py), bulk actions and exports search alike.
"""

from __future__ import annotations

import re
from functools import reduce
from operator import or_

from tortoise.expressions import Q

MAX_SEARCH_TERMS = 8
MAX_SEARCH_LENGTH = 200


def search_condition(search: str) -> Q | None:
    """The condition on Contact for `search`; None when it has no words. Phones compare digits
    alone (a word with 3 digits or more)."""
    terms = search.split()[:MAX_SEARCH_TERMS]
    if not terms:
        return None
    clauses = []
    for term in terms:
        options = [
            Q(first_name__icontains=term),
            Q(last_name__icontains=term),
            Q(business_name__icontains=term),
            Q(email__icontains=term),
        ]
        digits = re.sub(r"\D", "", term)
        if len(digits) >= 3:
            options.append(Q(phone__contains=digits))
        clauses.append(reduce(or_, options))
    return reduce(lambda a, b: a & b, clauses)
