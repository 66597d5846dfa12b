"""Dependency ranges: every direct dependency has a tested lower bound, and constraints/lowest.txt says which.

CI's third pass installs constraints/lowest.txt (each direct dependency at its floor) into a fresh venv
and runs the suite there; these tests keep that file generated from pyproject.toml and the ranges honest.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.scripts import load_script

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "lowest_constraints.py"
CONSTRAINTS = ROOT / "constraints" / "lowest.txt"


def _script() -> ModuleType:
    return load_script("lowest_constraints")


lowest = _script()


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _direct_requirements() -> list[Requirement]:
    project = _pyproject()["project"]
    reqs = list(project["dependencies"])
    for extra in lowest.EXTRAS:
        reqs += project["optional-dependencies"][extra]
    return [Requirement(r) for r in reqs]


def _pins() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for raw in CONSTRAINTS.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        (spec,) = req.specifier
        assert spec.operator == "==", f"constraints/lowest.txt pins with '==' only, not {line!r}"
        pins[canonicalize_name(req.name)] = Version(spec.version)
    return pins


# --------------------------------------------------------------------------------------
# The committed file
# --------------------------------------------------------------------------------------


def test_the_lowest_constraints_file_is_generated_from_pyproject() -> None:
    assert CONSTRAINTS.read_text() == lowest.render(_pyproject()), (
        "constraints/lowest.txt is stale: run `python scripts/lowest_constraints.py` and commit it"
    )
    assert lowest.main(["--check"]) == 0


def test_every_direct_dependency_is_pinned_at_the_floor_of_its_range() -> None:
    pins = _pins()
    declared = {canonicalize_name(r.name) for r in _direct_requirements()}
    assert set(pins) == declared
    for req in _direct_requirements():
        pin = pins[canonicalize_name(req.name)]
        assert req.specifier.contains(pin, prereleases=True), f"{req} does not allow its pin {pin}"
        floors = [Version(s.version) for s in req.specifier if s.operator in (">=", "~=", "==")]
        assert floors, f"{req} has no lower bound"
        assert pin >= max(floors)


def test_graphql_core_is_a_direct_dependency_on_the_3_3_line() -> None:
    """graph/execution.py imports 3.3-only internals; strawberry alone would accept 3.2."""
    (req,) = [r for r in _direct_requirements() if canonicalize_name(r.name) == "graphql-core"]
    assert not req.specifier.contains("3.2.8")
    assert not req.specifier.contains("3.4.0")
    # 3.3.0 and 3.3.1 are refused: on 3.3.0 the fast-path corpus came back wrong in full runs (issue 12).
    assert not req.specifier.contains("3.3.0")
    assert req.specifier.contains("3.3.2")
    assert _pins()["graphql-core"] == Version("3.3.2")
    # The internals the compiled path needs are there in the installed release.
    from graphql.execution.collect_fields import FieldDetailsList  # noqa: F401
    from graphql.execution.executor import invalid_return_type_error, to_nodes  # noqa: F401
    from graphql.pyutils import gather_with_cancel  # noqa: F401


def test_the_installed_packages_are_inside_the_declared_ranges() -> None:
    """A stale environment (an old graphql-core beside a new strawberry) fails here, not deep in a test."""
    outside = []
    for req in _direct_requirements():
        if req.marker is not None and not req.marker.evaluate({"extra": "test"}):
            continue
        try:
            installed = version(req.name)
        except PackageNotFoundError:
            outside.append(f"{req.name}: not installed")
            continue
        if not req.specifier.contains(installed, prereleases=True):
            outside.append(f"{req.name} {installed} is outside {req.specifier}")
    assert not outside, "; ".join(outside) + ' (run pip install -e ".[test]")'


def test_the_installed_ruff_finds_the_code_clean_and_formatted() -> None:
    """ruff's floor is a promise too: in CI's lowest pass this runs the oldest ruff pyproject.toml allows.

    Before 0.9 ruff formats with its 2024 style (7 files here differ) and 0.6-0.7 flag 5 lint errors.
    """
    for args in (["check", "--no-cache", "."], ["format", "--no-cache", "--check", "."]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, f"ruff {' '.join(args)} ({version('ruff')}):\n{done.stdout}{done.stderr}"


def test_ci_runs_the_suite_on_the_lowest_versions() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    tail = ci[ci.index("constraints/lowest.txt") :]
    assert "install -q -c constraints/lowest.txt -e" in tail
    assert "-m pytest" in tail
    assert "check $" in tail  # its failure fails CI


# --------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requirement", "floor"),
    [
        ("graphql-core>=3.3.0,<3.4", "3.3.0"),
        ("uvicorn[standard]>=0.50.2", "0.50.2"),
        ("twilio<10,>=9.10.0", "9.10.0"),
        ("pluggy~=1.5", "1.5"),
        ("orjson==3.9.0", "3.9.0"),
    ],
)
def test_the_floor_is_the_lowest_version_a_requirement_allows(requirement: str, floor: str) -> None:
    assert lowest.lower_bound(requirement) == floor


@pytest.mark.parametrize(
    ("requirement", "message"),
    [
        ("httpx", "no lower bound"),
        ("starlette<2", "no lower bound"),
        ("redis>=5.0,!=5.0", "excluded"),
        ("redis==5.*", "wildcard"),
        ("redis>=5.0,>=5.1", "more than one lower bound"),
    ],
)
def test_a_requirement_without_a_usable_floor_is_refused(requirement: str, message: str) -> None:
    with pytest.raises(lowest.BoundError, match=message):
        lowest.lower_bound(requirement)


def test_extras_are_dropped_markers_kept_and_a_repeated_package_pinned_once() -> None:
    text = lowest.render(
        {
            "project": {
                "dependencies": [
                    "uvicorn[standard]>=0.50.2",
                    "httpx>=0.27",
                    'tomli>=2.0; python_version < "3.11"',
                ],
                "optional-dependencies": {
                    "test": ["pytest>=9.0", "HTTPX>=0.27"],
                    "testing": ["pytest>=9.0,<10"],
                },
            }
        }
    )
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines == ["uvicorn==0.50.2", "httpx==0.27", 'tomli==2.0 ; python_version < "3.11"', "pytest==9.0"]


def test_a_package_declared_twice_with_different_floors_is_refused() -> None:
    """Only one floor gets installed and tested: the other would be a promise nobody checked."""
    pyproject = {
        "project": {
            "dependencies": ["httpx>=0.27"],
            "optional-dependencies": {"test": ["pytest>=9.0"], "testing": ["pytest>=8.2"]},
        }
    }
    with pytest.raises(lowest.BoundError, match=r"'pytest' has two lower bounds \(9.0 in .*test, 8.2 in"):
        lowest.render(pyproject)


def test_the_check_mode_fails_on_a_stale_file_and_the_script_rewrites_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\ndependencies = ["httpx>=0.27"]\n'
        '[project.optional-dependencies]\ntest = ["pytest>=8.2"]\ntesting = ["pytest>=8.2"]\n'
    )
    constraints = tmp_path / "constraints" / "lowest.txt"
    monkeypatch.setattr(lowest, "ROOT", tmp_path)
    monkeypatch.setattr(lowest, "PYPROJECT", pyproject)
    monkeypatch.setattr(lowest, "CONSTRAINTS", constraints)

    assert lowest.main(["--check"]) == 1  # missing
    assert lowest.main([]) == 0
    assert "httpx==0.27\n" in constraints.read_text()
    assert lowest.main(["--check"]) == 0

    pyproject.write_text(pyproject.read_text().replace("httpx>=0.27", "httpx>=0.28"))
    assert lowest.main(["--check"]) == 1
    assert "does not match pyproject.toml" in capsys.readouterr().err

    pyproject.write_text(pyproject.read_text().replace("httpx>=0.28", "httpx"))
    assert lowest.main([]) == 2
    assert "'httpx' has no lower bound" in capsys.readouterr().err
    assert "httpx==0.27\n" in constraints.read_text()  # a failed run leaves the file as it was
