# scratch (integ1 helper): before/after statement counts; deleted after use
import importlib.util
from typing import Any

from tests import test_statement_counts as t

import re

_src = open("/tmp/old_stmt.py").read()
OLD_FIELDS = re.search(r'CARD_FIELDS = """(.*?)"""', _src, re.S).group(1)


class old:
    CARD_FIELDS = OLD_FIELDS


async def test_counts(as_admin: Any, acme: Any, count_statements: Any) -> None:
    account_id = await t.account_of(acme)
    row_users = await t.add_users(account_id, 12, "rowref")
    tag_ids = await t.add_tags(account_id, t.BIG.tags)
    owner = acme.user_ids["manager"]
    small_id, big_id = await t.add_contacts(account_id, [(owner, owner, owner)] * 2)
    await t.fill_sections(account_id, [small_id], t.ONE_EACH, row_users[:1], tag_ids)
    await t.fill_sections(account_id, [big_id], t.BIG, row_users, tag_ids)
    for label, frag in (("old", old.CARD_FIELDS), ("new", t.CARD_FIELDS)):
        for cid in (small_id, big_id):
            m = await t.measure_card(as_admin, count_statements, t.CARD_QUERY + frag, cid)
            print("COUNT", label, cid, m.count)
            if label == "new" and cid == big_id:
                print(m.listing())
                import json
                print(json.dumps(m.data["communications"]["edges"][:3], indent=1)[:3000])
                print([e["node"]["__typename"] for e in m.data["communications"]["edges"]])
