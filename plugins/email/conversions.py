"""The email a client gets for a conversion (`conversion_sent`): plain text and HTML.

Built from the event's snapshot (`event.subject["record"]`, the card as it was when the
conversion was made, with the user's fields applied), so a retry sends the same email.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.utils import parseaddr
from typing import Any

from crm.contracts import OutboundEmail
from crm.events import CardEvent


def subject_line(event: CardEvent) -> str:
    name = str(event.subject.get("summary", {}).get("name") or event.contact.display_name)
    return f"New conversion: {name}"


def lines_of(event: CardEvent) -> list[tuple[str, str]]:
    record: Sequence[Mapping[str, Any]] = event.subject.get("record") or ()
    return [(str(line["label"]), str(line["value"])) for line in record]


def plain_text(event: CardEvent) -> str:
    lines = lines_of(event)
    width = max((len(label) for label, _ in lines), default=0)
    body = [f"A new conversion from {event.actor.name}:", ""]
    for label, value in lines:
        # A multi-line value stays readable: its next lines are indented under the first.
        first, *rest = value.splitlines() or [""]
        body.append(f"{label + ':':<{width + 1}} {first}")
        body += [f"{'':<{width + 1}} {more}" for more in rest]
    body += ["", f"Conversion {event.subject['conversionId']}, {_when(event.subject.get('createdAt'))}."]
    return "\n".join(body) + "\n"


def html_body(event: CardEvent) -> str:
    rows = "".join(
        f'<tr><th align="left" style="padding:4px 12px 4px 0;vertical-align:top">{html.escape(label)}</th>'
        f'<td style="padding:4px 0">{html.escape(value).replace(chr(10), "<br>")}</td></tr>'
        for label, value in lines_of(event)
    )
    return (
        '<!DOCTYPE html><html><body style="font-family:sans-serif">'
        f"<p>A new conversion from {html.escape(event.actor.name)}:</p>"
        f"<table>{rows}</table>"
        f'<p style="color:#666">Conversion {int(event.subject["conversionId"])},'
        f" {html.escape(_when(event.subject.get('createdAt')))}.</p>"
        "</body></html>"
    )


def _when(created_at: Any) -> str:
    try:
        return datetime.fromisoformat(str(created_at)).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return str(created_at)


def message_key(event: CardEvent, sender: str | None) -> str:
    """The Message-ID of every try of this conversion's email: receivers that deduplicate by
    Message-ID show a retried one once. Made of the conversion and its creation time, so two
    databases' conversion 1 do not share it."""
    domain = parseaddr(sender or "")[1].rpartition("@")[2] or "dossier.invalid"
    stamp = "".join(ch for ch in str(event.subject.get("createdAt", "")) if ch.isdigit())[:20]
    return f"<conversion.{int(event.subject['conversionId'])}.{stamp}@{domain}>"[:254]


def conversion_email(event: CardEvent, to: str, sender: str | None) -> OutboundEmail:
    return OutboundEmail(
        message_id=0,
        account_id=event.account_id,
        contact_id=event.contact_id,
        to=to,
        subject=subject_line(event),
        body=plain_text(event),
        html=html_body(event),
        message_key=message_key(event, sender),
    )
