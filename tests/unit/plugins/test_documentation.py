"""Every plugin's documentation is what ansible-doc can render: descriptions are text, not
mappings (a ": " inside an unquoted YAML line turns it into one)."""

import ast
from pathlib import Path

import pytest
import yaml

PLUGINS = Path(__file__).resolve().parents[3] / "plugins"
FILES = sorted(p for kind in ("modules", "filter", "doc_fragments") for p in (PLUGINS / kind).glob("*.py"))


def documentation(path: Path) -> dict:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "DOCUMENTATION":
            return yaml.safe_load(node.value.value)
    return {}


def descriptions(doc, where=""):
    if isinstance(doc, dict):
        for key, value in doc.items():
            # (an option may itself be called "description": its spec is a mapping with a type)
            if key == "description" and not (isinstance(value, dict) and "type" in value):
                yield where, value
            else:
                yield from descriptions(value, f"{where}.{key}")
    elif isinstance(doc, list):
        for item in doc:
            yield from descriptions(item, where)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_descriptions_are_text(path: Path) -> None:
    for where, value in descriptions(documentation(path)):
        items = value if isinstance(value, list) else [value]
        assert all(isinstance(item, str) for item in items), f"{path.name} {where}: {value!r}"
