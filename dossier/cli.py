"""The `dossier` command: serve, migrate, schema, account/user/API key management, worker."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from tortoise.exceptions import DBConnectionError

from crm.db import close_database, database_problem, is_postgres, migrate_database, open_database, redacted
from crm.errors import DomainError
from dossier import cli_export, cli_import
from dossier.settings import Settings


def _run(coro_fn: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(coro_fn())  # type: ignore[arg-type]


async def _with_db(settings: Settings, work: Callable[[], Awaitable[Any]]) -> Any:
    await open_database(settings.database_url, sqlite_busy_timeout=settings.sqlite_busy_timeout)
    try:
        return await work()
    finally:
        await close_database()


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    _run(lambda: migrate_database(settings.database_url, sqlite_busy_timeout=settings.sqlite_busy_timeout))
    print(f"database {settings.database_url} is up to date")
    return 0


def cmd_schema(args: argparse.Namespace, settings: Settings) -> int:
    from graph.schema import build_schema

    print(build_schema().as_str())
    return 0


def cmd_account_create(args: argparse.Namespace, settings: Settings) -> int:
    from crm.services.accounts import create_account

    issued = _run(lambda: _with_db(settings, lambda: create_account(args.name, args.email, args.admin_name)))
    print(
        f"created account {args.name.strip()!r}; its admin user is {issued.user.name} <{issued.user.email}>"
    )
    print("API key (shown once, store it now):")
    print(issued.key)
    return 0


def cmd_user_create(args: argparse.Namespace, settings: Settings) -> int:
    from crm.services.accounts import create_user

    issued = _run(
        lambda: _with_db(
            settings,
            lambda: create_user(args.account, args.name, args.email, args.role, phone=args.phone),
        )
    )
    print(f"created {issued.user.role} {issued.user.name} <{issued.user.email}> in {issued.account_name!r}")
    print("API key (shown once, store it now):")
    print(issued.key)
    return 0


# -- API keys ----------------------------------------------------------------------------------


async def _key_work(settings: Settings, work: Callable[[], Awaitable[Any]]) -> Any:
    """Run a key command as the server would record it: outbox rows for the plugins a server
    with these settings loads (its dispatcher delivers them), and, with DOSSIER_REDIS_URL, a
    revocation announced to every server process so open WebSockets close at once."""
    from dataclasses import replace

    from crm.live import make_broker
    from crm.wiring import wiring
    from plugins.calls import implementations
    from plugins.manager import make_plugin_manager, subscribers

    pm = make_plugin_manager(disabled=settings.disabled_plugins, load_entry_points=settings.load_entry_points)
    saved = replace(wiring)
    broker = make_broker(settings.redis_url) if settings.redis_url else None
    wiring.subscribers = subscribers(pm)
    wiring.audiences = {
        impl.plugin_name: audience
        for impl in implementations(pm, "event_audience")
        if (audience := impl.function()) is not None
    }
    if broker is not None:
        wiring.publish = broker.publish
    try:
        return await _with_db(settings, work)
    finally:
        wiring.__dict__.update(saved.__dict__)
        if broker is not None:
            await broker.close()


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "-"


def cmd_key_list(args: argparse.Namespace, settings: Settings) -> int:
    from crm.services import accounts
    from graph.ids import global_id_text

    async def work() -> list[Any]:
        return await accounts.list_api_keys(await accounts.system_actor(args.account))

    keys = _run(lambda: _key_work(settings, work))
    if not keys:
        print(f"no API keys in {args.account!r}")
        return 0
    rows = [("ID", "GLOBAL ID", "PREFIX", "NAME", "USER", "CREATED", "LAST USED", "REVOKED")] + [
        (
            str(k.id),
            global_id_text("ApiKey", k.id),
            k.prefix + "…",
            k.label or "-",
            f"{k.user.name} <{k.user.email}> ({k.user.role})",
            _when(k.created_at),
            _when(k.last_used_at),
            _when(k.revoked_at),
        )
        for k in keys
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)), row[-1])
    return 0


def cmd_key_create(args: argparse.Namespace, settings: Settings) -> int:
    from crm.services import accounts

    async def work() -> Any:
        actor = await accounts.system_actor(args.account)
        user = await accounts.user_by_email(actor, args.email)
        return await accounts.create_api_key(actor, user.id, args.name)

    created = _run(lambda: _key_work(settings, work))
    user = created.api_key.user
    api_key = created.api_key
    print(f"created API key {api_key.label!r} (id {api_key.id}) for {user.name} <{user.email}>")
    print("API key (shown once, store it now):")
    print(created.key)
    return 0


def _key_id(raw: str) -> int:
    from crm.errors import BadInput
    from graph.ids import decode_id

    text = raw.strip()
    if text.isascii() and text.isdigit():
        number = int(text)
        if 1 <= number <= 2**31 - 1:
            return number
        raise BadInput(f"{raw!r} is not an API key id", field="id")
    return decode_id(text, "ApiKey")


def cmd_key_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from crm.services import accounts

    key_id = _key_id(args.id)

    async def work() -> Any:
        was_revoked = await accounts.key_revoked_at(key_id)
        revoked = await accounts.revoke_api_key(await accounts.key_account_actor(key_id), key_id)
        return revoked, was_revoked

    revoked, was_revoked = _run(lambda: _key_work(settings, work))
    owner = f"{revoked.user.name} <{revoked.user.email}>"
    if was_revoked is not None:
        when = _when(was_revoked)
        print(f"API key {revoked.id} ({revoked.prefix}…) of {owner} was already revoked at {when}")
    else:
        print(f"revoked API key {revoked.id} ({revoked.prefix}…) of {owner}; it is refused from now on")
    return 0


def _workers_refusal(workers: int, settings: Settings) -> str | None:
    """Why `--workers N` cannot run with these settings, or None."""
    if workers < 1:
        return "--workers must be 1 or more"
    if workers == 1:
        return None
    if not is_postgres(settings.database_url):
        return "--workers above 1 needs PostgreSQL: one SQLite file cannot take several processes' writes"
    if not settings.redis_url:
        return (
            "--workers above 1 needs DOSSIER_REDIS_URL: live updates (subscriptions) must reach "
            "listeners connected to any of the processes"
        )
    return None


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from dossier.app import GRAPHIQL_DEMO_KEY, create_app

    refusal = _workers_refusal(args.workers, settings)
    if refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return 2
    demo_key = None
    if args.demo:
        from dossier.demo import demo_key_file, ensure_demo

        key_file = demo_key_file(settings.database_url)
        demo = _run(lambda: _with_db(settings, lambda: ensure_demo(key_file=key_file)))
        demo_key = demo.api_key
        url = f"http://{args.host}:{args.port}/graphql"
        print(f"Demo account {demo.account_name!r}: {demo.contacts} contacts.", flush=True)
        print(f"GraphiQL: {url}  (the demo key is preloaded in its Headers tab)", flush=True)
        print(f"Demo API key: {demo_key}", flush=True)
    else:
        _run(
            lambda: migrate_database(settings.database_url, sqlite_busy_timeout=settings.sqlite_busy_timeout)
        )
    common = {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
        "ws": "websockets-sansio",
        # WebSocket messages get the body limit (uvicorn's default is 16 MiB). The header limit
        # binds uvicorn's h11 parser when that one runs; with httptools the app refuses (431).
        "ws_max_size": settings.max_body_bytes,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
    }
    if args.workers == 1:
        uvicorn.run(create_app(settings, graphiql_api_key=demo_key), **common)
        return 0
    # Several processes: each builds its own app from the environment (uvicorn's factory mode).
    if demo_key:
        os.environ[GRAPHIQL_DEMO_KEY] = demo_key
    uvicorn.run("dossier.app:app_from_env", factory=True, workers=args.workers, **common)
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Deliver outbox rows without serving HTTP; run several against one PostgreSQL."""
    import httpx

    from dossier.app import start_plugins
    from plugins.dispatcher import Dispatcher, RetryPolicy
    from plugins.host import PluginHost
    from plugins.manager import make_plugin_manager

    if not is_postgres(settings.database_url):
        print(
            "error: dossier worker needs PostgreSQL (DOSSIER_DATABASE_URL=postgres://...). On SQLite the "
            "server's own dispatcher delivers the outbox: one SQLite file cannot take writes from "
            "several processes safely.",
            file=sys.stderr,
        )
        return 2

    async def work() -> None:
        pm = make_plugin_manager(disabled=settings.disabled_plugins)
        dispatcher = Dispatcher(
            pm,
            RetryPolicy(
                settings.outbox_max_attempts,
                settings.outbox_backoff_base,
                settings.outbox_backoff_cap,
                settings.hook_timeout,
            ),
            poll_interval=min(settings.outbox_poll_interval, 1.0),
            lease_seconds=settings.outbox_lease_seconds,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        if sys.platform != "win32":  # asyncio has no signal handlers there; Ctrl-C still stops it
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
        await open_database(settings.database_url, sqlite_busy_timeout=settings.sqlite_busy_timeout)
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0)) as http:
            host = PluginHost(env=settings.env, http=http, pm=pm, public_url=settings.public_url)
            # The same start-up as the API: plugins get their settings, services their capabilities.
            await start_plugins(settings, pm, host, outbox_written=dispatcher.wake)
            # Hooks may store files too (a partner's `store_recording_from_url`), as in the API.
            from dossier.files import configure_files

            file_storage = configure_files(settings)
            dispatcher.start()
            print("worker: delivering outbox rows; Ctrl-C to stop", flush=True)
            try:
                await stop.wait()
            finally:
                await dispatcher.stop()
                await file_storage.close()
                await close_database()

    _run(work)
    return 0


def cmd_storage_sweep(args: argparse.Namespace, settings: Settings) -> int:
    """Delete stored objects no attachment names (older than --older-than), report rows whose
    object is missing. Safe beside a running server: young objects may be uploads in flight."""
    from datetime import timedelta

    from crm.services.attachments import sweep
    from dossier.files import configure_files
    from dossier.settings import duration

    try:
        grace = timedelta(seconds=duration(args.older_than, 3600.0))
    except ValueError as exc:
        print(f"error: --older-than: {exc}", file=sys.stderr)
        return 2

    async def work() -> Any:
        store = configure_files(settings)
        try:
            return store.name, await sweep(grace=grace, dry_run=args.dry_run)
        finally:
            await store.close()

    name, report = _run(lambda: _with_db(settings, work))
    verb = "would delete" if args.dry_run else "deleted"
    count = len(report.orphans) if args.dry_run else report.deleted
    print(f"{name}: {verb} {count} orphaned object(s) older than {args.older_than or '1h'}")
    for key in report.orphans:
        print(f"  orphan {key}")
    if report.young:
        print(f"kept {report.young} younger orphan(s): uploads may still be in flight")
    for key in report.failed:
        print(f"  could not delete {key} (see the log)")
    for attachment_id, key in report.missing:
        print(f"missing object for attachment {attachment_id} (key {key}): its downloads answer 404")
    return 1 if report.failed else 0


def cmd_plugins(args: argparse.Namespace, settings: Settings) -> int:
    """List what a server started with these settings would load: built-ins and installed packages."""
    from pluggy import PluginValidationError

    from plugins.manager import make_plugin_manager

    try:
        pm = make_plugin_manager(
            disabled=settings.disabled_plugins, load_entry_points=settings.load_entry_points
        )
    except PluginValidationError as exc:  # e.g. a misspelt hook: the server would refuse to start
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows = [("NAME", "VERSION", "ORIGIN", "HOOKS")] + [
        (p.name, p.version, "built-in" if p.builtin else "package", ", ".join(p.hooks) or "-")
        for p in pm.listing()
    ]
    if len(rows) == 1:
        print("no plugins loaded")
    else:
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        for row in rows:
            print("  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)), row[3])
    if settings.disabled_plugins:
        print(f"disabled: {', '.join(settings.disabled_plugins)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dossier", description="Dossier contact-card CRM API")
    # Commands that open the database set uses_database: their URL is checked first (main).
    parser.set_defaults(uses_database=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the API server (migrates the database first)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--demo", action="store_true", help="fill the database with demo data and print a key")
    serve.add_argument("--log-level", default="info")
    serve.add_argument(
        "--workers", type=int, default=1, help="server processes (above 1: PostgreSQL and Redis needed)"
    )
    serve.set_defaults(handler=cmd_serve, uses_database=True)

    sub.add_parser("migrate", help="bring the database up to date").set_defaults(
        handler=cmd_migrate, uses_database=True
    )
    sub.add_parser("schema", help="print the GraphQL SDL").set_defaults(handler=cmd_schema)
    sub.add_parser("worker", help="run the outbox dispatcher alone").set_defaults(
        handler=cmd_worker, uses_database=True
    )
    sub.add_parser(
        "plugins", help="list the plugins that would load: name, version, origin, hooks"
    ).set_defaults(handler=cmd_plugins)

    account = sub.add_parser("account", help="manage accounts").add_subparsers(dest="action", required=True)
    create = account.add_parser("create", help="create an account with an admin user; prints its API key")
    create.add_argument("name", help="the account's name, unique ignoring case")
    create.add_argument("--email", required=True, help="the admin user's email")
    create.add_argument(
        "--admin-name",
        default=None,
        help="the admin user's name (default: from the email: jane.doe@… is Jane Doe)",
    )
    create.set_defaults(handler=cmd_account_create, uses_database=True)

    user = sub.add_parser("user", help="manage users").add_subparsers(dest="action", required=True)
    ucreate = user.add_parser("create", help="add a user to an account; prints its API key")
    ucreate.add_argument("--account", required=True)
    ucreate.add_argument("--name", required=True)
    ucreate.add_argument("--email", required=True)
    ucreate.add_argument("--role", required=True, choices=["admin", "manager", "rep"])
    ucreate.add_argument("--phone", help="where reminders are texted when the account enables it (E.164)")
    ucreate.set_defaults(handler=cmd_user_create, uses_database=True)

    store = sub.add_parser("storage", help="attachment storage").add_subparsers(dest="action", required=True)
    sweep = store.add_parser(
        "sweep", help="delete stored files no attachment names; report attachments whose file is missing"
    )
    sweep.add_argument("--dry-run", action="store_true", help="only report what would be deleted")
    sweep.add_argument(
        "--older-than",
        default="1h",
        help="only delete orphans older than this (seconds, or 30m, 24h, 2d; default 1h), so uploads"
        " in flight are kept",
    )
    sweep.set_defaults(handler=cmd_storage_sweep, uses_database=True)

    key = sub.add_parser("key", help="manage API keys").add_subparsers(dest="action", required=True)
    klist = key.add_parser(
        "list", help="an account's API keys: id, prefix, name, user, created, last used, revoked"
    )
    klist.add_argument("--account", required=True)
    klist.set_defaults(handler=cmd_key_list, uses_database=True)
    kcreate = key.add_parser("create", help="a new API key for a user; prints it (last line), once")
    kcreate.add_argument("--account", required=True)
    kcreate.add_argument("--email", required=True, help="the user's email")
    kcreate.add_argument("--name", default="created with the CLI", help="what the key is for")
    kcreate.set_defaults(handler=cmd_key_create, uses_database=True)
    krevoke = key.add_parser("revoke", help="revoke an API key; open WebSockets using it are closed")
    krevoke.add_argument("id", help="the key's id: the number `key list` shows, or its global id")
    krevoke.set_defaults(handler=cmd_key_revoke, uses_database=True)
    cli_export.add_parser(sub)
    cli_import.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("tortoise").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per provider call is noise
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        # A bare `dossier` asks what it can do: the help, on stdout, is the answer, not a usage
        # error (exit 0). A subcommand missing its action stays argparse's usage error (exit 2).
        parser.print_help()
        return 0
    settings = Settings.from_env()
    if args.uses_database:
        # Before tortoise sees the URL: a bad one hung it, or ended in a traceback.
        problem = _run(lambda: database_problem(settings.database_url))
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
    try:
        return int(args.handler(args, settings))
    except DomainError as exc:
        print(f"error ({exc.code}): {exc.message}", file=sys.stderr)
        return 2
    except DBConnectionError as exc:  # the database went away after the check
        print(f"error: database {redacted(settings.database_url)}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
