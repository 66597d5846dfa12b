"""Schema objects built by `graph.schema.common.built` (no dataclass __init__) are whole.

`built` takes an attribute dict as is: a field left out would only show as an AttributeError
when a query selects it. Each `from_row` that uses it must set exactly the dataclass's init
fields, as the keyword constructor would.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from graph.resolvers.loaders import CALL_READ, DEAL_READ, JOURNEY_READ, NOTE_READ
from graph.schema.calls import Call
from graph.schema.common import FieldChange
from graph.schema.deals import Deal
from graph.schema.journey import JourneyEvent
from graph.schema.notes import Note

WHEN = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
VALUES: dict[str, Any] = {
    "kind": "STATUS_CHANGED",
    "actor_kind": "USER",
    "actor_name": "Ana Admin",
    "author_kind": "PLUGIN",
    "author_name": "slack-notes",
    "summary": "Status: new → contacted",
    "changes": '{"status": ["new", "contacted"]}',
    "subject_type": "Call",
    "status": "SCHEDULED",
    "outcome": "SPOKE",
    "payment_type": "ONE_TIME",
    "amount": "1200.50",
    "currency": "USD",
    "recurring": 0,
    "event_name": "Discovery call",
    "duration_minutes": 30,
    "reschedule_count": 1,
    "direction": "INBOUND",  # a logged call (logCall)
    "duration_seconds": 754,
    "body": "<p>Hi</p>",
    "text_length": 2,
    "product_name": "Roof",
    "recording_url": None,
    "cancel_reason": None,
    "cancelled_at": None,
    "closed_at": None,
    "likelihood": 40,  # a deal's opportunity fields (issue 12)
    "close_date": "2027-03-31",
    "role": "admin",
    "name": "Ana Admin",
    "email": "ana@example.com",
}


def _row(columns: tuple[str, ...]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for column in columns:
        name = column.rpartition("__")[2]
        if name == "id" or name.endswith("_id"):
            row[column] = 7
        elif name.endswith("_at"):
            row[column] = WHEN
        else:
            row[column] = VALUES[name]
    return row


CASES = [
    pytest.param(JourneyEvent, JOURNEY_READ, id="JourneyEvent"),
    pytest.param(Call, CALL_READ, id="Call"),
    pytest.param(Note, NOTE_READ, id="Note"),
    pytest.param(Deal, DEAL_READ, id="Deal"),
]


@pytest.mark.parametrize(("cls", "columns"), CASES)
def test_from_row_sets_exactly_the_dataclass_fields(cls: type, columns: tuple[str, ...]) -> None:
    row = _row(columns)
    if cls is Deal:
        row["status"] = "WON"
    obj = cls.from_row(row)
    assert set(vars(obj)) == {f.name for f in dataclasses.fields(cls) if f.init}
    # What the keyword constructor builds from the same values: nothing more, nothing less.
    assert vars(cls(**vars(obj))) == vars(obj)
    # A batch (rows of one statement) gives the same object.
    assert cls.from_row(row, {}) == obj


def test_journey_changes_from_text_and_from_a_dict_agree() -> None:
    text = '{"status": ["new", "contacted"], "tags": [["vip"], ["vip", "webinar"]]}'
    from_text = FieldChange.of(text)
    assert list(from_text) == FieldChange.from_changes(orjson.loads(text))
    assert FieldChange.of(text) is from_text  # equal texts share the decoded changes
    assert FieldChange.of(None) == []
    assert FieldChange.of("{}") == ()
