"""`dossier export`: the contacts table to a CSV or XLSX file, from the command line.

The same columns, batches and formats as `exportContacts` (crm/services/exports.py), written
straight to `--out` by this process rather than by a worker through the storage; the file
appears whole (written beside it, then renamed) or not at all. `--filter` takes the JSON a
client would send as `exportContacts(input: {filter})`: the GraphQL ContactFilter, ids as the
API's global IDs, checked against the schema.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from crm.errors import BadInput
from dossier.settings import Settings


def contact_filter(text: str) -> dict[str, Any]:
    """The domain form of a ContactFilter given as JSON (BAD_USER_INPUT naming what is wrong)."""
    from graphql.utilities import coerce_input_value, validate_input_value
    from strawberry.types.arguments import convert_argument

    from graph.schema import schema
    from graph.schema.contact_filter import ContactFilter, filter_to_domain

    try:
        raw = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise BadInput(f"--filter is not JSON: {exc}", field="filter") from None
    if not isinstance(raw, dict):
        raise BadInput(
            '--filter must be a JSON object, e.g. \'{"status": {"in": ["lead"]}}\'', field="filter"
        )
    kind = schema._schema.get_type("ContactFilter")
    problems: list[str] = []
    validate_input_value(raw, kind, lambda error, *_: problems.append(str(error)))  # type: ignore[arg-type]
    if problems:
        raise BadInput(f"--filter: {problems[0]}", field="filter")
    value = convert_argument(
        coerce_input_value(raw, kind),  # type: ignore[arg-type]
        ContactFilter,
        schema.schema_converter.scalar_registry,
        schema.config,
    )
    return filter_to_domain(value) or {}  # type: ignore[arg-type]


def _id(value: str, type_name: str, flag: str) -> int:
    from graph.ids import decode_id

    return int(value) if value.isdigit() else decode_id(value, type_name, flag)


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty() and total:
        width = 30
        filled = width * done // total
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} rows")
        sys.stderr.flush()


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from crm.services.accounts import system_actor
    from crm.services.exports import export_to_file
    from crm.services.targets import Target
    from dossier.cli import _run, _with_db

    async def work() -> int:
        target = Target(
            ids=[_id(i, "Contact", "--ids") for i in args.ids.split(",") if i.strip()] if args.ids else None,
            filter=contact_filter(args.filter) if args.filter is not None else None,
            segment_id=_id(args.segment, "Segment", "--segment") if args.segment else None,
            archived=args.archived,
        )
        if target.ids is None and target.filter is None and target.segment_id is None:
            target = Target(filter={}, archived=args.archived)  # no target: every (live) contact
        columns = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None
        actor = await system_actor(args.account)
        return await export_to_file(actor, target, columns, args.format, Path(args.out), progress=_progress)

    rows = _run(lambda: _with_db(settings, work))
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    print(f"exported {rows} contacts to {args.out}")
    return 0


def add_parser(sub: Any) -> None:
    """`dossier export` (called by dossier/cli.py's build_parser)."""
    export = sub.add_parser(
        "export",
        help="export contacts to a CSV or XLSX file (all live contacts, or a filter, segment or ids)",
    )
    export.add_argument("--account", required=True, help="the account's name")
    export.add_argument("--out", required=True, help="the file to write (replaced when it exists)")
    export.add_argument(
        "--format", default="csv", type=str.upper, choices=["CSV", "XLSX"], help="csv or xlsx"
    )
    export.add_argument(
        "--columns",
        help="comma-separated column names (default: the API's default set), e.g. firstName,email,tags",
    )
    export.add_argument("--filter", help="a ContactFilter as JSON, as exportContacts takes it")
    export.add_argument("--segment", help="a segment's id: its members")
    export.add_argument("--ids", help="comma-separated contact ids")
    export.add_argument("--archived", action="store_true", help="archived contacts instead of live ones")
    export.set_defaults(handler=cmd_export, uses_database=True)
