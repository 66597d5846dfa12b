"""`create_app()`: the Starlette app with the database, plugins, dispatcher and GraphQL wired in."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry import Schema

from crm import jobs, wiring
from crm.db import close_database, open_database
from crm.live import Broker, make_broker
from crm.services import leads as lead_service
from crm.services import reminders
from crm.services.accounts import authenticate
from dossier import files, import_template, job_files, recording_links
from dossier.http_guard import HttpGuard
from dossier.intake import INTAKE_PATH, INTAKE_PREFIX, MAX_INTAKE_BYTES, Intake, make_rate_limiter
from dossier.referral_links import REFERRAL_ROUTE, referral_redirect
from dossier.settings import Settings
from graph import graphiql
from graph.live_auth import LiveAuth
from graph.schema import Limits, build_schema
from graph.view import DossierGraphQL
from plugins.bridge import PluginBridge
from plugins.calls import all_results, implementations
from plugins.dispatcher import Dispatcher, RetryPolicy
from plugins.host import PluginHost
from plugins.manager import DossierPlugins, make_plugin_manager, subscribers

log = logging.getLogger("dossier")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass
class Runtime:
    """What a running app holds; `app.state.dossier` in handlers and tests."""

    settings: Settings
    plugins: DossierPlugins
    dispatcher: Dispatcher
    broker: Broker
    schema: Schema


class RequestIdMiddleware:
    """Give every request an id (the caller's X-Request-ID if sane), echoed in the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or ()).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: dict) -> None:  # type: ignore[type-arg]
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        await self.app(scope, receive, send_with_id)


async def start_plugins(
    settings: Settings,
    pm: DossierPlugins,
    host: PluginHost,
    *,
    publish: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None,
    outbox_written: Callable[[], None] | None = None,
) -> None:
    """Run every plugin's `startup`, then tell the domain core what the plugins can do.

    Shared by the API (`create_app`) and `dossier worker`, so a plugin sees the same
    settings and the services the same capabilities in both.
    """
    await all_results(pm, "startup", host=host)
    jobs.configure(batch_size=settings.job_batch_size)
    reminders.configure(call_reminder_minutes=settings.call_reminder_minutes)
    audiences = {
        impl.plugin_name: audience
        for impl in implementations(pm, "event_audience")
        if (audience := impl.function()) is not None
    }
    wiring.configure(
        audiences=audiences,
        subscribers=subscribers(pm),
        publish=publish,
        outbox_written=outbox_written,
        default_region=settings.default_region,
        capabilities=frozenset(await all_results(pm, "capabilities")),
        sms_from=host.setting("TWILIO_FROM"),
        email_from=host.setting("SMTP_FROM"),
    )


def create_app(
    settings: Settings | None = None,
    *,
    plugins: Iterable[object] = (),
    graphiql_api_key: str | None = None,
) -> Starlette:
    """The Dossier ASGI app. `plugins` adds plugin objects to the built-ins and entry points."""
    settings = settings or Settings.from_env()
    pm = make_plugin_manager(
        extra=plugins, disabled=settings.disabled_plugins, load_entry_points=settings.load_entry_points
    )
    broker = make_broker(settings.redis_url)
    dispatcher = Dispatcher(
        pm,
        RetryPolicy(
            max_attempts=settings.outbox_max_attempts,
            backoff_base=settings.outbox_backoff_base,
            backoff_cap=settings.outbox_backoff_cap,
            timeout=settings.hook_timeout,
        ),
        poll_interval=settings.outbox_poll_interval,
        lease_seconds=settings.outbox_lease_seconds,
    )
    schema = build_schema(
        Limits(introspection=settings.introspection, max_cost=settings.query_cost_limit),
        fast_path=settings.fast_path,
    )
    runtime = Runtime(settings, pm, dispatcher, broker, schema)
    view = DossierGraphQL(
        schema,
        authenticate=authenticate,
        broker=broker,
        plugins=PluginBridge(pm),
        graphiql=settings.graphiql,
        graphiql_api_key=graphiql_api_key,
        allowed_origins=settings.allowed_origins,
        request_timeout=settings.request_timeout,
        max_response_bytes=settings.max_response_bytes,
        live_auth=LiveAuth(broker, recheck_seconds=settings.auth_recheck_seconds),
    )

    intake = Intake(
        make_rate_limiter(settings.redis_url),
        per_key=settings.intake_limit_per_key,
        per_address=settings.intake_limit_per_address,
        window=settings.intake_rate_window,
    )

    http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0), follow_redirects=False)
    host = PluginHost(env=settings.env, http=http, pm=pm, public_url=settings.public_url)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await open_database(settings.database_url, sqlite_busy_timeout=settings.sqlite_busy_timeout)
        await start_plugins(settings, pm, host, publish=broker.publish, outbox_written=dispatcher.wake)
        file_storage = files.configure_files(settings)  # attachments: storage, size limit, link signing
        lead_service.configure(
            duplicate_window=timedelta(seconds=settings.lead_duplicate_window), public_url=settings.public_url
        )
        if settings.run_dispatcher:
            dispatcher.start()
        if settings.gc_tuning:
            tune_garbage_collector()
        try:
            yield
        finally:
            await dispatcher.stop()
            await view.live_auth.close()
            await intake.limiter.close()
            await broker.close()
            await http.aclose()
            await file_storage.close()
            await close_database()

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    plugin_routes = [route for routes in pm.hook.register_routes() for route in routes or ()]
    # GraphiQL's scripts and stylesheets, served by the app itself (no CDN): only with GraphiQL.
    graphiql_routes = (
        [Route("/graphql/assets/{name}", graphiql.asset_endpoint, methods=["GET", "HEAD"])]
        if settings.graphiql
        else []
    )
    app = Starlette(
        routes=[
            Route("/graphql", view, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", view),
            *graphiql_routes,
            Route("/healthz", health),
            Route(INTAKE_PATH, intake.endpoint, methods=["POST", "OPTIONS"]),
            Route(REFERRAL_ROUTE, referral_redirect, methods=["GET", "HEAD"]),
            *files.ROUTES,  # POST /attachments, GET /files/{token}
            *recording_links.ROUTES,  # GET /shared/recordings/{token}
            *job_files.ROUTES,  # GET /job-files/{token}
            *import_template.ROUTES,  # GET /import-template/{token}
            *plugin_routes,
        ],
        lifespan=lifespan,
    )
    # Inside RequestIdMiddleware, so its refusals carry the request id and X-Request-ID.
    app.add_middleware(
        HttpGuard,
        max_body_bytes=settings.max_body_bytes,
        max_header_bytes=settings.max_header_bytes,
        path_limits={INTAKE_PREFIX: MAX_INTAKE_BYTES},
        # Uploads stream through (never buffered here) up to the attachment limit plus envelope.
        upload_paths=(files.UPLOAD_PATH,),
        max_upload_bytes=files.upload_limit(settings),
    )
    app.add_middleware(RequestIdMiddleware)
    app.state.dossier = runtime
    return app


def tune_garbage_collector() -> None:
    """Server processes only (`dossier serve`, DOSSIER_GC_TUNING): a card request allocates
    some 100,000 objects, and with CPython's default thresholds (a young collection every 700
    allocations, full ones that walk every module, ORM and schema object) collection took a
    quarter of a card's CPU time. Objects alive after start-up are frozen out of collection,
    and young collections run every 50,000 allocations. Cycles are still collected."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


# Set by `dossier serve --demo --workers N` so every process shows the demo key in GraphiQL.
GRAPHIQL_DEMO_KEY = "DOSSIER_GRAPHIQL_DEMO_KEY"


def app_from_env() -> Starlette:
    """The app for one of several server processes (`dossier serve --workers N`)."""
    return create_app(Settings.from_env(), graphiql_api_key=os.environ.get(GRAPHIQL_DEMO_KEY))
