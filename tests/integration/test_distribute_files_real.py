"""corral.cluster.distribute_files through ansible-playbook, on this machine (connection local), with the
real file_digests, file and copy modules: under the controller's ansible-core and under 2.16 (the one
that drives CentOS 7 / EL 8 hosts), when its venv (.cache/venv-ansible-2.16, made by tools/test) is there.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_216 = ROOT / ".cache" / "venv-ansible-2.16" / "bin" / "ansible-playbook"
PLAYBOOKS = {"controller": Path(sys.executable).parent / "ansible-playbook", "ansible-core 2.16": ANSIBLE_216}

PLAY = """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Put the files
      corral.cluster.distribute_files:
        directories:
          - {path: "{{ dest }}/pki", mode: "0700"}
        files:
          - {dest: "{{ dest }}/pki/ca.crt", src: "{{ src }}/ca.crt", mode: "0644"}
          - {dest: "{{ dest }}/pki/ca.key", src: "{{ src }}/ca.key", mode: "0600"}
          - {dest: "{{ dest }}/kubelet.yaml", content: "{{ content }}", mode: "0600"}
"""


def run(playbook_bin: Path, tmp_path: Path, *args: str, content: str = "kind: KubeletConfiguration\n"):
    play = tmp_path / "play.yml"
    play.write_text(PLAY)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / "playbooks" / "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    extra = {"dest": str(tmp_path / "host"), "src": str(tmp_path / "pki"), "content": content}
    result = subprocess.run([str(playbook_bin), "-i", "localhost,", str(play), "-e", json.dumps(extra), *args],
                            env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return int(re.search(r"localhost\s+: ok=\d+\s+changed=(\d+)", result.stdout).group(1)), result.stdout


@pytest.fixture(params=list(PLAYBOOKS), ids=list(PLAYBOOKS))
def playbook_bin(request):
    path = PLAYBOOKS[request.param]
    if not path.exists():
        pytest.skip(f"{path} is not there (tools/test makes it)")
    return path


@pytest.fixture
def pki(tmp_path):
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "ca.crt").write_text("CERTIFICATE\n")
    (tmp_path / "pki" / "ca.key").write_text("PRIVATE KEY SECRET\n")
    return tmp_path / "pki"


def test_copies_once_then_changes_nothing_and_mends_a_mode(playbook_bin, tmp_path, pki):
    host = tmp_path / "host"
    # Check mode on a bare host: reported, nothing made.
    changed, _out = run(playbook_bin, tmp_path, "--check")
    assert changed == 1 and not host.exists()
    changed, _out = run(playbook_bin, tmp_path)
    assert changed == 1
    assert (host / "pki" / "ca.key").read_text() == "PRIVATE KEY SECRET\n"
    assert stat.S_IMODE((host / "pki").stat().st_mode) == 0o700
    assert stat.S_IMODE((host / "pki" / "ca.key").stat().st_mode) == 0o600
    assert (host / "kubelet.yaml").read_text() == "kind: KubeletConfiguration\n"
    assert run(playbook_bin, tmp_path)[0] == 0
    assert run(playbook_bin, tmp_path, "--check")[0] == 0
    # A mode changed behind Ansible's back is mended; the content is the same.
    (host / "pki" / "ca.crt").chmod(0o666)
    assert run(playbook_bin, tmp_path)[0] == 1
    assert stat.S_IMODE((host / "pki" / "ca.crt").stat().st_mode) == 0o644


def test_diff_shows_a_certificate_change_never_a_key(playbook_bin, tmp_path, pki):
    run(playbook_bin, tmp_path)
    (pki / "ca.crt").write_text("RENEWED CERTIFICATE\n")
    (pki / "ca.key").write_text("NEW PRIVATE KEY SECRET\n")
    changed, out = run(playbook_bin, tmp_path, "--diff")
    assert changed == 1
    assert "RENEWED CERTIFICATE" in out
    assert "SECRET" not in out
    assert (tmp_path / "host" / "pki" / "ca.key").read_text() == "NEW PRIVATE KEY SECRET\n"
