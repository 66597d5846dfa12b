#!/usr/bin/env python3
"""Download the JavaScript and CSS that GraphiQL needs from the npm registry, vendor them under
graph/graphiql/assets/, and write graph/graphiql/assets.json (versions and SRI hashes).

The page at GET /graphql loads only these files, from the server itself: it works with no
network at all. Run this to refresh them, then run tests/test_graphiql_assets.py and
tests/test_graphiql_browser.py:

    python scripts/refresh_graphiql_assets.py                          # the pinned versions again
    python scripts/refresh_graphiql_assets.py --version graphiql=3.8.3 --version react=18.3.1

Each package tarball is checked against the integrity hash the registry publishes for it
(sha512) before a file is taken out of it; the manifest records that hash too, so a later
refresh can show what changed. Files of versions no longer pinned are deleted.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GRAPHIQL_DIR = ROOT / "graph" / "graphiql"
ASSETS_DIR = GRAPHIQL_DIR / "assets"
MANIFEST = GRAPHIQL_DIR / "assets.json"
REGISTRY = "https://registry.npmjs.org"

# What the page needs: (package, file inside the package, name served, kind). The versions come
# from the manifest (or --version); the defaults are the ones strawberry-graphql 0.341's own GraphiQL
# page pins (same files, same hashes), known to work together.
FILES: tuple[tuple[str, str, str, str], ...] = (
    ("react", "umd/react.production.min.js", "react-{version}.min.js", "script"),
    ("react-dom", "umd/react-dom.production.min.js", "react-dom-{version}.min.js", "script"),
    ("graphiql", "graphiql.min.js", "graphiql-{version}.min.js", "script"),
    ("graphiql", "graphiql.min.css", "graphiql-{version}.min.css", "style"),
    ("@graphiql/plugin-explorer", "dist/index.umd.js", "plugin-explorer-{version}.umd.js", "script"),
    ("@graphiql/plugin-explorer", "dist/style.css", "plugin-explorer-{version}.css", "style"),
)
DEFAULT_VERSIONS = {
    "react": "18.2.0",
    "react-dom": "18.2.0",
    "graphiql": "3.8.3",
    "@graphiql/plugin-explorer": "1.0.2",
}


def sri(data: bytes, algorithm: str = "sha384") -> str:
    """A Subresource Integrity value: `sha384-<base64 digest>`."""
    return f"{algorithm}-{base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


def fetch(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "dossier-refresh-graphiql-assets"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read()


def package_tarball(registry: str, package: str, version: str) -> tuple[bytes, str, str]:
    """The package's tarball, checked against the registry's integrity hash; and its URL and hash."""
    meta: dict[str, Any] = json.loads(fetch(f"{registry}/{package.replace('/', '%2F')}/{version}"))
    dist = meta["dist"]
    tarball = fetch(dist["tarball"])
    expected = dist.get("integrity")
    if not expected:
        raise SystemExit(f"{package}@{version}: the registry publishes no integrity hash")
    algorithm = expected.split("-", 1)[0]
    if sri(tarball, algorithm) != expected:
        raise SystemExit(f"{package}@{version}: the tarball does not match the registry's {expected}")
    return tarball, dist["tarball"], expected


def extract(tarball: bytes, path: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        member = archive.extractfile(f"package/{path}")
        if member is None:
            raise SystemExit(f"package/{path} is not a file in the tarball")
        return member.read()


def pinned_versions() -> dict[str, str]:
    if not MANIFEST.exists():
        return dict(DEFAULT_VERSIONS)
    manifest = json.loads(MANIFEST.read_text())
    return {package: entry["version"] for package, entry in manifest["packages"].items()}


def parse_versions(values: list[str]) -> dict[str, str]:
    versions: dict[str, str] = {}
    for value in values:
        package, sep, version = value.rpartition("=")
        if not sep or not package or not version:
            raise SystemExit(f"--version takes PACKAGE=VERSION, got {value!r}")
        if package not in DEFAULT_VERSIONS:
            raise SystemExit(f"--version: {package!r} is not vendored; one of {', '.join(DEFAULT_VERSIONS)}")
        versions[package] = version
    return versions


def refresh(versions: dict[str, str], registry: str) -> dict[str, Any]:
    packages: dict[str, dict[str, str]] = {}
    tarballs: dict[str, bytes] = {}
    for package, version in versions.items():
        print(f"{package}@{version}", file=sys.stderr)
        tarball, url, integrity = package_tarball(registry, package, version)
        tarballs[package] = tarball
        packages[package] = {"version": version, "tarball": url, "integrity": integrity}
    assets = []
    ASSETS_DIR.mkdir(parents=True, exist_ok=True)
    for package, path, template, kind in FILES:
        version = versions[package]
        data = extract(tarballs[package], path)
        name = template.format(version=version)
        (ASSETS_DIR / name).write_bytes(data)
        assets.append(
            {
                "name": name,
                "kind": kind,
                "package": package,
                "version": version,
                "path": path,
                "bytes": len(data),
                "integrity": sri(data),
            }
        )
        print(f"  {name}: {len(data):,} bytes", file=sys.stderr)
    kept = {asset["name"] for asset in assets}
    for stale in ASSETS_DIR.iterdir():
        if stale.name not in kept:
            stale.unlink()
            print(f"  removed {stale.name}", file=sys.stderr)
    return {
        "about": "Vendored by scripts/refresh_graphiql_assets.py; served at /graphql/assets/<name> "
        "with these integrity hashes (checked by tests/test_graphiql_assets.py).",
        "packages": packages,
        "assets": assets,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--version",
        action="append",
        default=[],
        metavar="PACKAGE=VERSION",
        help=f"pin another version (packages: {', '.join(DEFAULT_VERSIONS)}); repeatable",
    )
    parser.add_argument("--registry", default=REGISTRY, help=f"npm registry (default {REGISTRY})")
    args = parser.parse_args(argv)
    versions = {**pinned_versions(), **parse_versions(args.version)}
    manifest = refresh(versions, args.registry.rstrip("/"))
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {MANIFEST} ({len(manifest['assets'])} files)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
