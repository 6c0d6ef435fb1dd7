"""What runs on the hosts works on Python 3.6, the Python of CentOS 7 and EL 8.

Every file under plugins/modules and plugins/module_utils is compiled by a Python 3.6
interpreter, and each module_util is run under it by python36_smoke.py, whose output must be
the same as under the controller's Python.

The interpreter: $CORRAL_PYTHON36, else .cache/venv-py36 (tools/test makes it, with netaddr and
cryptography, so every module_util runs), else a python3.6 found under /root/.pyenv/versions or
on PATH (the module_utils that need netaddr or cryptography are then skipped), else every test
here is skipped.
"""

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
COLLECTIONS = ROOT / "playbooks" / "collections"
SMOKE = Path(__file__).with_name("python36_smoke.py")
HOST_CODE = sorted((ROOT / "plugins" / "modules").glob("*.py")) + sorted((ROOT / "plugins" / "module_utils").glob("*.py"))
SCENARIOS = ["etcd", "rancher", "artifacts", "docker_daemon", "kubernetes", "kernel", "pod_network", "preflight", "pki"]


def find_python36():
    """(interpreter, required): required when given by $CORRAL_PYTHON36, which must then have every library."""
    given = os.environ.get("CORRAL_PYTHON36")
    if given:
        return given, True
    venv = ROOT / ".cache" / "venv-py36" / "bin" / "python"  # made by tools/test
    if venv.exists():
        return str(venv), True
    candidates = sorted(glob.glob("/root/.pyenv/versions/3.6*/bin/python3.6")) + [shutil.which("python3.6") or ""]
    return next((path for path in candidates if path and os.access(path, os.X_OK)), None), False


PYTHON36, REQUIRED = find_python36()
pytestmark = pytest.mark.skipif(PYTHON36 is None, reason="no Python 3.6 on this machine (set CORRAL_PYTHON36)")


def run_smoke(python, name):
    result = subprocess.run([python, str(SMOKE), str(COLLECTIONS), name], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=300, check=False)
    assert result.returncode == 0, f"{python} {SMOKE.name} {name} failed:\n{result.stderr}"
    out = json.loads(result.stdout)
    return out.pop("python"), out[name]


def test_the_interpreter_is_python36():
    version = subprocess.run([PYTHON36, "-c", "import sys; print(sys.version_info[:2])"], stdout=subprocess.PIPE,
                             universal_newlines=True, check=True).stdout.strip()
    assert version == "(3, 6)", f"{PYTHON36} is Python {version}, not 3.6"


def test_every_module_and_module_util_compiles_on_python36():
    assert len(HOST_CODE) > 10
    script = (
        "import sys\n"
        "bad = []\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        compile(open(path, encoding='utf-8').read(), path, 'exec')\n"
        "    except SyntaxError as error:\n"
        "        bad.append('%s:%s: %s' % (path, error.lineno, error.msg))\n"
        "print('\\n'.join(bad))\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([PYTHON36, "-c", script, *map(str, HOST_CODE)], stdout=subprocess.PIPE,
                            universal_newlines=True, check=False)
    assert result.returncode == 0, f"Python 3.6 cannot compile:\n{result.stdout}"


@pytest.mark.parametrize("name", SCENARIOS)
def test_module_util_gives_the_same_results_on_python36(name):
    version, on_36 = run_smoke(PYTHON36, name)
    assert version == [3, 6]
    if isinstance(on_36, dict) and set(on_36) == {"missing"}:
        assert not REQUIRED, f"{PYTHON36} (CORRAL_PYTHON36) lacks {on_36['missing']}"
        pytest.skip(f"{PYTHON36} has no {on_36['missing']}: set CORRAL_PYTHON36 to a Python 3.6 that has it")
    on_controller = run_smoke(sys.executable, name)[1]
    assert on_36 == on_controller
