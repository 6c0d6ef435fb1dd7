"""Every service role's tasks/main.yml has the same shape: its preflight first, then its steps, each an
import_tasks of a file of its own, with the role's tag. The roles that differ are the ones
docs/architecture.md lists, with the reason."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
ROLES = ROOT / "roles"
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def documented_exceptions() -> set[str]:
    """The roles named in the first column of the table of roles with another shape."""
    table = ARCHITECTURE.split("### Roles whose `tasks/main.yml` has another shape", 1)[1].split("\n\n", 2)[1]
    names: set[str] = set()
    for row in table.splitlines()[2:]:
        names.update(re.findall(r"`([a-z_]+)`", row.split("|")[1]))
    return names


EXCEPTIONS = documented_exceptions()
STANDARD = sorted(path.parent.parent.name for path in ROLES.glob("*/tasks/main.yml")
                  if path.parent.parent.name not in EXCEPTIONS)


def test_the_exceptions_are_roles():
    assert EXCEPTIONS and EXCEPTIONS <= {path.name for path in ROLES.iterdir()}


@pytest.mark.parametrize("role", STANDARD)
def test_main_is_the_preflight_then_imported_steps_with_the_roles_tag(role):
    tasks = yaml.safe_load((ROLES / role / "tasks" / "main.yml").read_text(encoding="utf-8"))
    assert tasks[0].get("ansible.builtin.import_tasks") == "preflight.yml", role
    tag = "network" if role == "flannel" else role  # flannel is the network role's plugin
    for task in tasks:
        step = task.get("ansible.builtin.import_tasks")
        # flannel's one exception: its client certificate, issued by the pki role after its checks.
        issued = (task.get("ansible.builtin.include_role") or {}).get("name") == "corral.cluster.pki"
        assert step or issued, (role, task.get("name"))
        if step:
            assert (ROLES / role / "tasks" / step).is_file(), (role, step)
        assert tag in task.get("tags", []), (role, task.get("name"))
