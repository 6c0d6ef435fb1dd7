"""The raw python3 bootstrap of the preflight role (roles/preflight/tasks/python.yml): its two
shell scripts, run by sh with stand-ins for python3, dnf, yum and apt-get on PATH (nothing else)."""

import subprocess
from pathlib import Path

import pytest
import yaml

ROLE = Path(__file__).resolve().parents[3] / "roles" / "preflight"
SCRIPTS = yaml.safe_load((ROLE / "vars" / "main.yml").read_text(encoding="utf-8"))
TASKS = yaml.safe_load((ROLE / "tasks" / "python.yml").read_text(encoding="utf-8"))


def run(script: str, tmp_path: Path, commands: list) -> tuple:
    """Run script with only the given commands on PATH; each stand-in logs its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    log = tmp_path / "calls.log"
    for command in commands:
        stub = bin_dir / command
        stub.write_text(f'#!/bin/sh\necho "{command} $*" >> {log}\n')
        stub.chmod(0o755)
    result = subprocess.run(["/bin/sh", "-c", script], env={"PATH": str(bin_dir)}, capture_output=True, text=True,
                            check=False)
    calls = log.read_text().splitlines() if log.exists() else []
    return result, calls


def test_the_probe_tells_a_host_with_python3_from_one_without(tmp_path: Path) -> None:
    result, _calls = run(SCRIPTS["__preflight_python_probe"], tmp_path / "with", ["python3"])
    assert result.stdout.strip() == "corral-python3: present"
    result, _calls = run(SCRIPTS["__preflight_python_probe"], tmp_path / "without", ["dnf"])
    assert result.stdout.strip() == "corral-python3: missing"


@pytest.mark.parametrize("commands, expected", [
    (["dnf", "yum"], ["dnf install -y python3"]),  # EL 8: dnf (yum is its alias)
    (["yum"], ["yum install -y python3"]),  # EL 7
    (["apt-get"], ["apt-get update -qq", "apt-get install -y -qq python3"]),  # Debian
])
def test_the_install_uses_the_package_manager_of_the_host(tmp_path: Path, commands: list, expected: list) -> None:
    result, calls = run(SCRIPTS["__preflight_python_install"], tmp_path, commands)
    assert result.returncode == 0, result.stderr
    assert calls == expected
    assert "corral-python3: installed with " + commands[0] in result.stdout


def test_the_install_is_a_no_op_where_python3_is_there(tmp_path: Path) -> None:
    result, calls = run(SCRIPTS["__preflight_python_install"], tmp_path, ["python3", "dnf"])
    assert result.returncode == 0 and calls == []
    assert "installed" not in result.stdout


def test_the_install_fails_with_a_message_without_a_package_manager(tmp_path: Path) -> None:
    result, calls = run(SCRIPTS["__preflight_python_install"], tmp_path, [])
    assert result.returncode == 1 and calls == []
    assert "neither dnf, yum nor apt-get found: install python3 on this host by hand" in result.stderr


def test_a_failed_install_fails_the_task(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dnf").write_text("#!/bin/sh\necho 'No match for argument: python3' >&2\nexit 1\n")
    (bin_dir / "dnf").chmod(0o755)
    result = subprocess.run(["/bin/sh", "-c", SCRIPTS["__preflight_python_install"]], env={"PATH": str(bin_dir)},
                            capture_output=True, text=True, check=False)
    assert result.returncode != 0 and "installed" not in result.stdout


def test_the_tasks_run_before_any_fact_is_gathered_and_only_the_probe_in_check_mode() -> None:
    main = yaml.safe_load((ROLE / "tasks" / "main.yml").read_text(encoding="utf-8"))
    # The role's one task includes the checks (once per run); their first task is the bootstrap.
    assert [task["ansible.builtin.include_tasks"] for task in main] == ["checks.yml"]
    checks = yaml.safe_load((ROLE / "tasks" / "checks.yml").read_text(encoding="utf-8"))
    assert checks[0]["ansible.builtin.import_tasks"] == "python.yml"
    assert "ansible.builtin.setup" in checks[1]
    probe, stop, install = TASKS
    assert "ansible.builtin.raw" in probe and probe["check_mode"] is False and probe["changed_when"] is False
    assert "ansible.builtin.fail" in stop and "ansible_check_mode" in stop["when"]
    # raw is skipped in check mode; the install needs root and changes only when it installed.
    assert "ansible.builtin.raw" in install and install["become"] is True and "check_mode" not in install
    assert "corral-python3: installed" in install["changed_when"]
    # A host whose inventory names its interpreter keeps it: nothing is probed or installed.
    assert "ansible_python_interpreter" in probe["when"]
