#!/usr/bin/env bash
# The partner's path, for real: build this checkout's dossier-crm wheel, make a fresh virtualenv
# (no system site-packages), install the example plugin from its own directory with its test
# extra, and run its tests there. `--find-links` makes the dependency `dossier-crm` resolve to
# the wheel just built; everything else (strawberry, tortoise, pytest, ...) comes from the
# package index, as it would for a partner. Then `dossier plugins` must list the plugin found
# through its entry point, and the unrelated `dossier` distribution must not be installed.
#
#   scripts/check_example_plugin.sh            # prints each step's seconds
#   KEEP=1 scripts/check_example_plugin.sh     # keep the scratch directory for a look
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/dossier-example-XXXXXX")"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$WORK"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
step() { echo "== $1 ($SECONDS s)"; }

step "building the dossier-crm wheel from $ROOT (${SOURCE:-worktree})"
# Built from a copy, so the checkout gets no build/ or egg-info of it: the working tree as it
# is (the default), or SOURCE=head for the last commit only.
mkdir "$WORK/src"
if [ "${SOURCE:-worktree}" = head ]; then
  git -C "$ROOT" archive HEAD | tar -C "$WORK/src" -xf -
else
  tar -C "$ROOT" --exclude=.git --exclude='*.egg-info' --exclude=build --exclude=__pycache__ \
    --exclude='*.db' --exclude=.venv -cf - . | tar -C "$WORK/src" -xf -
fi
"$PYTHON" -m pip wheel -q --no-deps "$WORK/src" -w "$WORK/wheels"

step "a fresh virtualenv"
cd "$WORK"  # not the checkout: python -c would import its packages from the working directory
"$PYTHON" -m venv "$WORK/venv"
VENV_PY="$WORK/venv/bin/python"
# Nothing from the system's site-packages (where this checkout is installed) is visible in it.
"$VENV_PY" -c 'import sys; assert sys.prefix != sys.base_prefix; import importlib.util as u; assert u.find_spec("dossier") is None, "dossier is importable before install"'

step "pip install the example from its own directory, [test] extra"
cp -r "$WORK/src/examples/dossier-slack-notes" "$WORK/example"
rm -rf "$WORK/example/build" "$WORK/example"/src/*.egg-info
"$VENV_PY" -m pip install -q --find-links "$WORK/wheels" "$WORK/example[test]"
"$VENV_PY" -m pip show dossier-crm >"$WORK/installed.txt"
grep -E '^(Name|Version|Location):' "$WORK/installed.txt"
if "$VENV_PY" -m pip show dossier >/dev/null 2>&1; then
  echo "the unrelated 'dossier' distribution got installed" >&2
  exit 1
fi

step "the example's tests, in the fresh environment"
cd "$WORK/example"
"$VENV_PY" -m pytest -q -p no:cacheprovider

step "dossier plugins finds it through its entry point"
"$WORK/venv/bin/dossier" plugins | tee "$WORK/plugins.txt"
grep -Eq '^slack-notes +0\.1\.0 +package ' "$WORK/plugins.txt"

step "done"
