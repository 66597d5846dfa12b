"""`dossier import FILE --account A [--mode LEADS|CONTACTS] [--dry-run] [--mapping JSON]`.

The same job as `importContacts` (crm/services/imports.py): the file is read, checked and stored
the same way, and the `import.contacts` job is queued; this process then runs its batches itself
(`run_here`, one transaction each, as a worker would) with a progress bar, and prints the
outcome. The plugins are started as the worker starts them, so `contacts_imported` is queued for
those that take it (a server or `dossier worker` delivers it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson

from crm.errors import BadInput
from dossier.settings import Settings


def mapping_of(text: str | None) -> dict[str, str | None] | None:
    """--mapping: {"column": "field"} or [{"column": ..., "field": ...}] as importContacts takes it."""
    if text is None:
        return None
    try:
        raw = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise BadInput(f"--mapping is not JSON: {exc}", field="mapping") from None
    if isinstance(raw, list) and all(isinstance(m, dict) and "column" in m for m in raw):
        raw = {m["column"]: m.get("field") for m in raw}
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in raw.items()
    ):
        raise BadInput(
            '--mapping must map column headers to fields, e.g. \'{"E-mail": "email", "Notes": null}\'',
            field="mapping",
        )
    return raw


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(64 * 1024):
            yield chunk


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    import httpx
    from tqdm import tqdm

    from crm.services import imports
    from crm.services.accounts import system_actor
    from dossier.app import start_plugins
    from dossier.cli import _run, _with_db
    from dossier.files import configure_files
    from plugins.host import PluginHost
    from plugins.manager import make_plugin_manager

    path = Path(args.file)
    if not path.is_file():
        print(f"error: {args.file} is not a file", file=sys.stderr)
        return 2
    mapping = mapping_of(args.mapping)

    async def work() -> Any:
        pm = make_plugin_manager(disabled=settings.disabled_plugins)
        file_storage = configure_files(settings)
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0)) as http:
            host = PluginHost(env=settings.env, http=http, pm=pm, public_url=settings.public_url)
            await start_plugins(settings, pm, host, outbox_written=lambda: None)
            try:
                actor = await system_actor(args.account)
                job = await imports.start_import(
                    actor,
                    stream=_chunks(path),
                    filename=path.name,
                    mode=args.mode,
                    mapping=mapping,
                    dry_run=args.dry_run,
                )
                with tqdm(total=job.total, unit="row", disable=not sys.stderr.isatty() or args.quiet) as bar:

                    def progress(current: Any) -> None:
                        bar.update(current.done + current.skipped + current.failed - bar.n)

                    return await imports.run_here(job.id, progress)
            finally:
                await file_storage.close()

    job = _run(lambda: _with_db(settings, work))
    result = job.result or {}
    what = "would import" if job.dry_run else "imported"
    print(
        f"{what} {job.done} of {job.total} rows from {path.name} ({job.status}): "
        f"{result.get('created', 0)} contacts created, {result.get('merged', 0)} rows merged, "
        f"{result.get('duplicates', 0)} duplicate leads, {job.skipped} rows skipped"
    )
    if job.error:
        print(f"error: {job.error}", file=sys.stderr)
    if job.file_name:
        print(f"the report of the skipped rows: job {job.id}'s file {job.file_name} (BulkJob.file)")
    return 0 if job.status == "DONE" else 1


def add_parser(sub: Any) -> None:
    """`dossier import` (called by dossier/cli.py's build_parser)."""
    parser = sub.add_parser("import", help="import contacts or leads from a .csv, .xlsx or .xls file")
    parser.add_argument(
        "file", help="the file: .csv (any common encoding and delimiter), .xlsx, .xls or .ods"
    )
    parser.add_argument("--account", required=True, help="the account's name")
    parser.add_argument(
        "--mode", default="CONTACTS", type=str.upper, choices=["LEADS", "CONTACTS"], help="default CONTACTS"
    )
    parser.add_argument("--dry-run", action="store_true", help="check every row and report; write nothing")
    parser.add_argument(
        "--mapping", help='column headers to fields as JSON, e.g. \'{"E-mail": "email", "Notes": null}\''
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=cmd_import, uses_database=True)
