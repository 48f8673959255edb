"""Check real API responses against the served OpenAPI schema, strictly.

The schema (OpenAPI 3.0) is turned into JSON Schema: `nullable` becomes a null alternative, and every object that
lists its properties refuses any other (`additionalProperties: false`), so a response with a field the schema does
not state fails as surely as one missing a field or with a value outside an enum. A status the operation does not
document fails too.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
from rest_framework.test import APIClient


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _strict(value) for key, value in node.items()}
    if node.get("type") == "object" and "properties" in node:
        node.setdefault("additionalProperties", False)
    if node.pop("nullable", False):
        if "type" in node and "enum" not in node:
            node["type"] = [node["type"], "null"]
        else:
            node = {"anyOf": [node, {"type": "null"}]}
    return node


class Schema:
    def __init__(self, raw: dict):
        self.raw = raw
        self.components = _strict(copy.deepcopy(raw["components"]))
        self.seen: set[tuple[str, str, str]] = set()

    @classmethod
    def served(cls) -> Schema:
        response = APIClient().get("/api/schema/", {"format": "json"})
        assert response.status_code == 200
        return cls(response.json())

    def operations(self) -> set[tuple[str, str]]:
        return {(method.upper(), path) for path, ops in self.raw["paths"].items() for method in ops}

    def check(self, response, method: str, path: str) -> Any:
        """Assert the response's status is documented for the operation and its JSON body matches; return the body."""
        operation = self.raw["paths"][path][method.lower()]
        status = str(response.status_code)
        assert status in operation["responses"], f"{method} {path} answered {status}, not in the schema"
        content = operation["responses"][status].get("content")
        if response.get("Content-Type", "").startswith("text/csv"):
            # A CSV download (`?format=csv`): the schema must say the operation answers CSV; its columns are the
            # JSON's names, which the reports' own tests compare.
            assert content is not None and "text/csv" in content, f"{method} {path} {status}: CSV not in the schema"
            self.seen.add((method.upper(), path, status))
            return response.content.decode("utf-8")
        body = response.json() if response.content else None
        if content is None:
            assert not response.content, f"{method} {path} {status}: a body the schema does not describe"
        else:
            assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
            schema = _strict(copy.deepcopy(content["application/json"]["schema"]))
            validator = jsonschema.Draft202012Validator({**schema, "components": self.components})
            errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
            assert not errors, f"{method} {path} {status}: " + "; ".join(
                f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}" for e in errors[:5]
            )
        self.seen.add((method.upper(), path, status))
        return body
