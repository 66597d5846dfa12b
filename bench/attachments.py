"""Uploading and downloading a 25 MB file, and the server's memory while it uploads.

    python bench/attachments.py [--size-mb 25] [--rounds 3] [--backend sqlite|postgres]

One Dossier server (a uvicorn subprocess on 127.0.0.1, directory storage in a temporary
folder), one account and contact. Each round sends the same file of `--size-mb` random bytes
(a PDF header first) both ways a client can -- POST /attachments (a plain multipart form) and
addAttachment (the GraphQL multipart request spec) -- then downloads it through its
downloadUrl, streaming the response and discarding it. While each request runs, the server's
resident memory (VmRSS in /proc/<pid>/status) is sampled every 10 ms.

Reported per way: MB/s up and down (median of the rounds), and the server's RSS before the
first upload and its peak during the uploads, with the growth as a share of the file's size:
uploads stream through (spooled by the form parser, copied to storage in 64 KB chunks), so the
growth must stay far below the file's size. Linux only for the RSS (reads /proc). Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/attachments.py` puts bench/, not the project, on the path
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import orjson  # noqa: E402

from bench.server import ServerProcess, fresh_database, serve  # noqa: E402
from crm.db import close_database, open_database  # noqa: E402
from crm.services import accounts  # noqa: E402

PG_DATABASE = "dossier_bench_attachments"
CREATE = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"
ADD = "mutation($i: AddAttachmentInput!) { addAttachment(input: $i) { id size sha256 downloadUrl } }"
MB = 1_000_000


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@contextmanager
def sampled(pid: int, peaks: list[int]) -> Iterator[None]:
    """Sample the server's RSS every 10 ms while the block runs; append the peak (KiB)."""
    stop = threading.Event()
    peak = [rss_kib(pid)]

    def run() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_kib(pid))
            stop.wait(0.01)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        peaks.append(max(peak[0], rss_kib(pid)))


async def set_up(url: str) -> str:
    await open_database(url)
    try:
        return (await accounts.create_account("Bench", "bench@example.com", "Bench Admin")).key
    finally:
        await close_database()


async def run(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="dossier-bench-files-"))
    url = await fresh_database(args.backend, PG_DATABASE, work / "bench.db")
    if url is None:
        return
    key = await set_up(url)
    payload = work / "upload.pdf"
    with payload.open("wb") as out:
        out.write(b"%PDF-1.7\n")
        left = args.size_mb * MB - 9
        while left > 0:
            out.write(os.urandom(min(left, MB)))
            left -= MB
    size = payload.stat().st_size
    env = {
        "DOSSIER_DATABASE_URL": url,
        "DOSSIER_STORAGE_DIR": str(work / "files"),
        "DOSSIER_SECRET_KEY": "bench",
        "DOSSIER_GRAPHIQL": "false",
        "DOSSIER_DISABLED_PLUGINS": "sms,email,maps,webhooks",
    }
    server = ServerProcess(__file__, env=env, quiet=True)
    headers = {"Authorization": f"Bearer {key}"}
    try:
        await server.ready()
        pid = server.proc.pid
        async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=120) as client:
            contact = await client.post(
                "/graphql", json={"query": CREATE, "variables": {"i": {"firstName": "B"}}}
            )
            contact_id = contact.json()["data"]["createContact"]["id"]
            baseline = rss_kib(pid)
            peaks: list[int] = []
            speeds: dict[str, list[float]] = {"POST /attachments": [], "addAttachment": [], "download": []}
            for _ in range(args.rounds):
                for way in ("POST /attachments", "addAttachment"):
                    started = time.perf_counter()
                    with sampled(pid, peaks), payload.open("rb") as body:
                        if way == "POST /attachments":
                            answer = await client.post(
                                "/attachments", data={"contactId": contact_id},
                                files={"file": ("upload.pdf", body, "application/pdf")},
                            )  # fmt: skip
                            made = answer.json()
                        else:
                            operations = {
                                "query": ADD,
                                "variables": {"i": {"contactId": contact_id, "file": None}},
                            }
                            answer = await client.post(
                                "/graphql",
                                data={"operations": orjson.dumps(operations).decode(),
                                      "map": orjson.dumps({"0": ["variables.i.file"]}).decode()},
                                files={"0": ("upload.pdf", body, "application/pdf")},
                            )  # fmt: skip
                            made = answer.json()["data"]["addAttachment"]
                    assert answer.status_code in (200, 201) and made["size"] == size, answer.text[:300]
                    speeds[way].append(size / MB / (time.perf_counter() - started))
                    started = time.perf_counter()
                    received = 0
                    async with client.stream(
                        "GET", made["downloadUrl"].replace("http://testserver", "")
                    ) as got:
                        async for chunk in got.aiter_raw():
                            received += len(chunk)
                    assert received == size
                    speeds["download"].append(size / MB / (time.perf_counter() - started))
    finally:
        server.stop()
    peak = max(peaks) if peaks else 0
    print(f"{args.backend}: a {size / MB:.1f} MB file, {args.rounds} round(s), median MB/s")
    for way, values in speeds.items():
        print(f"  {way:<18} {statistics.median(values):8.1f} MB/s")
    growth = (peak - baseline) * 1024
    print(
        f"  server RSS: {baseline / 1024:.1f} MiB before, {peak / 1024:.1f} MiB peak during uploads;"
        f" growth {growth / MB:.1f} MB = {growth / size:.0%} of the file"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--serve-fd", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fd is not None:
        from dossier import Settings, create_app

        serve(args.serve_fd, create_app(Settings.from_env()))
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
