"""The partner guide (docs/plugins.md) stays honest: one section per hook in plugins/hookspecs.py,
with the hook's exact signature, and no section for a hook that is gone."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from typing import Any

import pytest

from plugins import hookspecs
from plugins.manager import DEFAULT_PLUGINS, ENTRY_POINT_GROUP, make_plugin_manager

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"
REFERENCE_HEADING = "## Hook reference"
LABELS = ("**Fires:**", "**Gets:**", "**Returns:**", "**Blocking:**")


def hookspec_functions() -> dict[str, Any]:
    """Every hook a plugin can implement, in declaration order."""
    return {
        name: function
        for name, function in vars(hookspecs).items()
        if inspect.isfunction(function) and hasattr(function, "dossier_spec")
    }


def _annotation(value: Any) -> str:
    # hookspecs.py uses `from __future__ import annotations`: annotations are the source text.
    return value if isinstance(value, str) else inspect.formatannotation(value)


def signature_text(function: Any) -> str:
    """`def name(arg: Type, ...) -> Return`, as the hook is written in hookspecs.py."""
    signature = inspect.signature(function)
    params = ", ".join(f"{p.name}: {_annotation(p.annotation)}" for p in signature.parameters.values())
    return f"def {function.__name__}({params}) -> {_annotation(signature.return_annotation)}"


def hook_sections() -> dict[str, str]:
    """The guide's hook reference: {hook name: section text}, from `### \\`name\\`` headings."""
    text = GUIDE.read_text()
    assert REFERENCE_HEADING in text, f"{GUIDE} has no '{REFERENCE_HEADING}' section"
    reference = text.split(REFERENCE_HEADING, 1)[1]
    reference = re.split(r"^## ", reference, flags=re.MULTILINE)[0]  # up to the next chapter
    parts = re.split(r"^### (.+)$", reference, flags=re.MULTILINE)
    sections: dict[str, str] = {}
    for heading, body in zip(parts[1::2], parts[2::2], strict=True):
        name = heading.strip().strip("`")
        assert name not in sections, f"the guide documents {name} twice"
        sections[name] = body
    return sections


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", markdown, flags=re.MULTILINE | re.DOTALL)


SPECS = hookspec_functions()


def test_the_signature_text_is_built_as_hookspecs_py_spells_it() -> None:
    # The builder itself, against the source, so the check below compares like with like.
    source = Path(hookspecs.__file__).read_text()
    assert SPECS, "no hookspecs found"
    for name, function in SPECS.items():
        assert f"\n{signature_text(function)}:\n" in source, name


@pytest.mark.parametrize("hook", list(SPECS))
def test_every_hook_has_a_section_with_its_exact_signature(hook: str) -> None:
    sections = hook_sections()
    assert hook in sections, f"docs/plugins.md has no '### `{hook}`' section in its hook reference"
    section = sections[hook]
    signature = signature_text(SPECS[hook])
    assert f"**Signature:** `{signature}`" in section, (
        f"the section for {hook} does not show its signature exactly as hookspecs.py declares it:\n"
        f"  {signature}"
    )
    for label in LABELS:
        assert label in section, f"the section for {hook} does not say {label}"
    if SPECS[hook].dossier_spec["firstresult"]:
        prose = " ".join(section.split())
        assert "first non-None result" in prose, f"{hook} is firstresult; its section must say so"


def test_the_guide_documents_no_hook_that_does_not_exist() -> None:
    documented = list(hook_sections())
    gone = [name for name in documented if name not in SPECS]
    assert not gone, f"docs/plugins.md documents hooks that plugins/hookspecs.py no longer has: {gone}"
    in_spec_order = [name for name in SPECS if name in documented]
    assert documented == in_spec_order, "keep the hook reference in the order of hookspecs.py"


@pytest.mark.parametrize("hook", list(SPECS))
def test_every_hook_example_is_python_implementing_that_hook(hook: str) -> None:
    blocks = python_blocks(hook_sections().get(hook, ""))
    assert blocks, f"the section for {hook} has no example"
    spec_args = set(inspect.signature(SPECS[hook]).parameters)
    implementations = []
    for block in blocks:
        tree = ast.parse(block)  # a syntax error fails here
        implementations += [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name == hook
            and any(ast.unparse(d) == "hookimpl" for d in node.decorator_list)
        ]
    assert implementations, f"the example for {hook} has no `@hookimpl def {hook}(...)`"
    for node in implementations:
        args = {a.arg for a in node.args.args} - {"self"}
        # pluggy accepts any subset of the hook's arguments, by name; anything else is an error.
        assert args <= spec_args, (
            f"the example for {hook} takes {sorted(args - spec_args)}, not hook arguments"
        )


def test_every_python_block_in_the_guide_parses() -> None:
    for block in python_blocks(GUIDE.read_text()):
        ast.parse(block)


def test_the_guide_names_the_entry_point_group_and_every_built_in() -> None:
    text = GUIDE.read_text()
    assert f'[project.entry-points."{ENTRY_POINT_GROUP}"]' in text
    assert "DEFAULT_PLUGINS" in text
    assert "DOSSIER_DISABLED_PLUGINS" in text
    names = [info.name for info in make_plugin_manager(load_entry_points=False).listing()]
    assert len(names) == len(DEFAULT_PLUGINS)
    for name in names:  # what a user may put in DOSSIER_DISABLED_PLUGINS
        assert f"`{name}`" in text, f"the guide does not name the built-in plugin {name!r}"
