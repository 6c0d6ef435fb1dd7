"""Every role's meta/argument_specs.yml mirrors its defaults/main.yml: same names, a description
each, and the same default (computed defaults are described, not repeated)."""

from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[3] / "roles"
PYTHON_TYPES = {"bool": bool, "str": str, "int": int, "list": list, "dict": dict, "raw": object}


def load(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


@pytest.mark.parametrize("role", sorted(p.name for p in ROLES.iterdir() if (p / "defaults" / "main.yml").exists()))
def test_argument_specs_mirror_the_defaults(role: str) -> None:
    defaults = load(ROLES / role / "defaults" / "main.yml")
    options = load(ROLES / role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert set(options) == set(defaults)
    for name, value in defaults.items():
        spec = options[name]
        assert spec.get("description"), name
        if "{{" in yaml.safe_dump(value):
            assert "default" not in spec, f"{name}: a computed default is described, not repeated"
            continue
        assert spec.get("default") == value, name
        if value is None:  # unset: the component's own default applies
            assert not spec.get("required"), name
            continue
        assert isinstance(value, PYTHON_TYPES[spec["type"]]), name
        if "choices" in spec:
            # A list's choices are those of its elements.
            chosen = value if spec["type"] == "list" else [value]
            assert all(item in spec["choices"] for item in chosen), name
