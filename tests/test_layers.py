"""Imports flow one way: interfaces → services → selectors → models → pure modules.

Read from the source with `ast` (every import statement, top-level or inside a function), so a check anyone can
run says which module breaks the rule and where.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "handoff"

# package under handoff/ → packages of handoff/ it must never import
FORBIDDEN = {
    "models": ("services", "selectors", "tasks", "views", "api", "admin", "crm", "demo"),
    "selectors": ("services", "tasks", "views", "api", "admin"),
    "services": ("tasks", "views", "api", "admin", "management"),
    "crm": ("models", "services", "selectors", "tasks", "views", "api"),
}
PURE = ("businesstime", "rules", "segments", "exceptions", "charts")  # import nothing of the app but each other


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(APP.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            found.append((node.lineno, module))
            # `from handoff import services` imports the package named by the alias
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def _app_modules() -> list[Path]:
    return sorted(p for p in APP.rglob("*.py") if "migrations" not in p.parts)


def _layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "handoff" else None


def violations() -> list[str]:
    found = []
    for path in _app_modules():
        layer = _layer_of(_module_name(path))
        banned = FORBIDDEN.get(layer, ())
        if layer in PURE:
            banned = tuple({_layer_of(_module_name(p)) for p in _app_modules()} - set(PURE) - {None})
        for line, module in _imports(path):
            target = _layer_of(module)
            if target in banned and target != layer:
                found.append(f"{path.relative_to(APP.parent)}:{line} ({layer}) imports {module}")
    return sorted(set(found))


def test_no_module_imports_against_the_flow_of_the_layers():
    assert violations() == []


@pytest.mark.parametrize("layer", ["models", "selectors", "services"])
def test_the_check_finds_what_it_is_looking_for(layer, tmp_path, monkeypatch):
    # A check that cannot fail proves nothing: a planted upside-down import is reported.
    banned = FORBIDDEN[layer][0]
    planted = APP / layer / "zz_planted_for_test.py"
    planted.write_text(f"from handoff.{banned} import something  # noqa\n")
    try:
        assert any("zz_planted_for_test" in v for v in violations())
    finally:
        planted.unlink()
