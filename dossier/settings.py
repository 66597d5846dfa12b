"""Settings from the environment (DOSSIER_*), read once at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from graph.cost import DEFAULT_COST_LIMIT
from graph.execution import fast_path_from_env


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def duration(value: str | None, default: float) -> float:
    """Seconds from "90", "90s", "30m", "24h" or "2d"; empty gives the default."""
    if value is None or not value.strip():
        return default
    text = value.strip().lower()
    unit = _UNITS.get(text[-1])
    number = text[:-1] if unit else text
    try:
        seconds = float(number) * (unit or 1.0)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a duration: give seconds, or a number with s, m, h or d"
        ) from None
    if seconds < 0:
        raise ValueError(f"{value!r} is negative")
    return seconds


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite://dossier.db"
    # Seconds a SQLite write waits for another process's write (the CLI beside the server)
    # before failing with "database is locked"; crm/sqlite.py.
    sqlite_busy_timeout: float = 10.0
    redis_url: str | None = None
    default_region: str = "US"
    graphiql: bool = True
    introspection: bool = True
    run_dispatcher: bool = True  # the in-process outbox dispatcher; off when `dossier worker`s run it
    outbox_max_attempts: int = 8
    outbox_backoff_base: float = 2.0
    outbox_backoff_cap: float = 3600.0
    outbox_poll_interval: float = 5.0
    # A claim's lease, renewed every third of it while the hook runs: a dead worker's rows
    # come back within this many seconds.
    outbox_lease_seconds: float = 30.0
    hook_timeout: float = 30.0
    # Background jobs (crm/jobs.py): items per step, each step one transaction.
    job_batch_size: int = 500
    # The HTTP edge (dossier/http_guard.py): bigger bodies answer 413, bigger headers 431.
    max_body_bytes: int = 1024 * 1024
    max_header_bytes: int = 16 * 1024
    # Guard rails per request (README, "Rules the API enforces"): the worst-case number of
    # objects a document may return (graph.cost), seconds an operation may run, bytes of JSON
    # a response may carry.
    query_cost_limit: int = DEFAULT_COST_LIMIT
    request_timeout: float = 30.0
    max_response_bytes: int = 16 * 1024 * 1024
    disabled_plugins: tuple[str, ...] = ()
    load_entry_points: bool = True
    allowed_origins: tuple[str, ...] = field(default=())
    public_url: str | None = None  # where providers call back (webhook signatures are over it)
    # Compiled execution (graph/execution.py). None follows DOSSIER_FAST_PATH, so the whole
    # test suite can run with it off without every test naming it.
    fast_path: bool | None = None
    # Server processes tune CPython's garbage collector (dossier.app.tune_garbage_collector);
    # off by default so tests and embedding applications keep the interpreter as it is.
    gc_tuning: bool = False
    # How often each server process re-checks the API keys of its open WebSockets (a key
    # revoked, a user deleted or a role changed outside the API closes them; graph/live_auth.py).
    auth_recheck_seconds: float = 5.0
    # Leads (crm/services/leads.py): a lead repeating one the same contact sent (same form, same
    # answers) within this many seconds is marked DUPLICATE. DOSSIER_LEAD_DUPLICATE_WINDOW takes
    # seconds or a number with s, m, h or d ("24h").
    lead_duplicate_window: float = 24 * 3600.0
    # The public intake endpoint (dossier/intake.py, POST /forms/{key}): at most this many
    # submissions per form key, and per client address, in each window of this many seconds.
    intake_limit_per_key: int = 120
    intake_limit_per_address: int = 10
    intake_rate_window: float = 60.0
    # Reminders (crm/services/reminders.py): a scheduled call's reminder fires this many
    # minutes before it starts; a task's when it falls due.
    call_reminder_minutes: float = 15.0
    # Attachments (crm/services/attachments.py, dossier/files.py): the largest file accepted, in
    # bytes; where files live (a directory, default `dossier-files` beside the SQLite file or in
    # the working directory on PostgreSQL; or an S3-compatible bucket when s3_bucket is set); the
    # secret that signs download links (default: generated once into `dossier-secret.key` beside
    # the SQLite file / in the working directory, dossier/secret.py).
    attachment_max_bytes: int = 25 * 1024 * 1024
    storage_dir: str | None = None
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_prefix: str = ""
    secret_key: str | None = None
    # Every DOSSIER_* variable, for plugins: each reads its own (see PluginHost.setting).
    env: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        defaults = cls()

        def get(name: str) -> str | None:
            return env.get(f"DOSSIER_{name}")

        def num(name: str, default: float) -> float:
            raw = get(name)
            return float(raw) if raw not in (None, "") else default

        def names(name: str) -> tuple[str, ...]:
            return tuple(p.strip() for p in (get(name) or "").split(",") if p.strip())

        return cls(
            database_url=get("DATABASE_URL") or defaults.database_url,
            sqlite_busy_timeout=num("SQLITE_BUSY_TIMEOUT", defaults.sqlite_busy_timeout),
            redis_url=get("REDIS_URL") or None,
            default_region=(get("DEFAULT_REGION") or defaults.default_region).upper(),
            graphiql=_bool(get("GRAPHIQL"), defaults.graphiql),
            introspection=_bool(get("INTROSPECTION"), defaults.introspection),
            run_dispatcher=_bool(get("RUN_DISPATCHER"), defaults.run_dispatcher),
            outbox_max_attempts=int(num("OUTBOX_MAX_ATTEMPTS", defaults.outbox_max_attempts)),
            outbox_backoff_base=num("OUTBOX_BACKOFF_BASE", defaults.outbox_backoff_base),
            outbox_backoff_cap=num("OUTBOX_BACKOFF_CAP", defaults.outbox_backoff_cap),
            outbox_poll_interval=num("OUTBOX_POLL_INTERVAL", defaults.outbox_poll_interval),
            outbox_lease_seconds=num("OUTBOX_LEASE_SECONDS", defaults.outbox_lease_seconds),
            hook_timeout=num("HOOK_TIMEOUT", defaults.hook_timeout),
            job_batch_size=int(num("JOB_BATCH_SIZE", defaults.job_batch_size)),
            max_body_bytes=int(num("MAX_BODY_BYTES", defaults.max_body_bytes)),
            max_header_bytes=int(num("MAX_HEADER_BYTES", defaults.max_header_bytes)),
            query_cost_limit=int(num("QUERY_COST_LIMIT", defaults.query_cost_limit)),
            request_timeout=num("REQUEST_TIMEOUT", defaults.request_timeout),
            max_response_bytes=int(num("MAX_RESPONSE_BYTES", defaults.max_response_bytes)),
            disabled_plugins=names("DISABLED_PLUGINS"),
            allowed_origins=names("ALLOWED_ORIGINS"),
            public_url=(get("PUBLIC_URL") or None),
            fast_path=fast_path_from_env(env),
            gc_tuning=_bool(get("GC_TUNING"), True),
            auth_recheck_seconds=num("AUTH_RECHECK_SECONDS", defaults.auth_recheck_seconds),
            lead_duplicate_window=duration(get("LEAD_DUPLICATE_WINDOW"), defaults.lead_duplicate_window),
            intake_limit_per_key=int(num("INTAKE_LIMIT_PER_KEY", defaults.intake_limit_per_key)),
            intake_limit_per_address=int(num("INTAKE_LIMIT_PER_ADDRESS", defaults.intake_limit_per_address)),
            intake_rate_window=num("INTAKE_RATE_WINDOW", defaults.intake_rate_window),
            call_reminder_minutes=num("CALL_REMINDER_MINUTES", defaults.call_reminder_minutes),
            attachment_max_bytes=int(num("ATTACHMENT_MAX_BYTES", defaults.attachment_max_bytes)),
            storage_dir=get("STORAGE_DIR") or None,
            s3_bucket=get("S3_BUCKET") or None,
            s3_endpoint_url=get("S3_ENDPOINT_URL") or None,
            s3_prefix=get("S3_PREFIX") or "",
            secret_key=get("SECRET_KEY") or None,
            env={k: v for k, v in env.items() if k.startswith("DOSSIER_")},
        )
