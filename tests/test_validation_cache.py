"""Validation results are reused per parsed document, and invalid documents stay invalid."""

from __future__ import annotations

from typing import Any

import pytest

import graph.validation as validation
from graph.schema import build_schema


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    seen: list[Any] = []
    real = validation.validate_document

    def counting(schema: Any, document: Any, rules: Any) -> Any:
        seen.append(document)
        return real(schema, document, rules)

    monkeypatch.setattr(validation, "validate_document", counting)
    validation._RESULTS.clear()
    return seen


async def test_a_document_is_validated_once_and_its_errors_kept(validations: list[Any]) -> None:
    schema = build_schema()
    bad = "{ nope }"
    for _ in range(3):
        result = await schema.execute(bad)
        assert result.errors and "Cannot query field 'nope' on type 'Query'." in result.errors[0].message
    good = "{ __typename }"
    for _ in range(3):
        result = await schema.execute(good)
        assert result.errors is None and result.data == {"__typename": "Query"}
    assert len(validations) == 2  # one per document text: the parser cache returns the same object


async def test_the_guard_rails_still_apply_on_a_cached_document(validations: list[Any]) -> None:
    schema = build_schema()
    deep = "{ viewer { user { id } } }".replace("id", "id " + " ".join(f"a{i}: id" for i in range(40)))
    for _ in range(2):
        result = await schema.execute(deep)
        assert result.errors and "aliases" in result.errors[0].message.lower()
    assert len(validations) == 1
