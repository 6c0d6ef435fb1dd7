"""Docker on the lab nodes: node1 from Debian's docker.io (distro), node2 static.

The tests run in file order: settings, a loaded image, then a mirror change (one restart, then
changed=0), bad values refused, a move refused (a non-empty target; a running container), and last
the data-root move.
"""

import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import testinfra

PROJECT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
INVENTORY = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "inventory")
MIRROR_DIR = Path.home() / ".cache" / "corral-lab" / "artifacts"
# The workload image the lab built (tools/lab_artifacts.py): its archive and the name it loads as.
_BUSYBOX = json.loads((MIRROR_DIR / "artifacts.json").read_text())["sets"]["1.36"]["busybox_image"]
BUSYBOX_TAR = MIRROR_DIR / _BUSYBOX["path"]
BUSYBOX = _BUSYBOX["image"]
NODES = ("node1", "node2")
MIRROR = "https://mirror-a.lab.invalid"
NEW_MIRRORS = ["https://mirror-b.lab.invalid", "https://mirror-c.lab.invalid"]
NEW_ROOT = "/appdata/lib/docker"


def node(name):
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={INVENTORY}", sudo=True)


def run_playbook(*args):
    """playbooks/docker.yml from the checkout against the scenario's nodes, without colours."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=str(PROJECT / "playbooks" / "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return subprocess.run(["ansible-playbook", "-i", str(INVENTORY), *args, str(PROJECT / "playbooks" / "docker.yml")],
                          env=env, cwd=PROJECT, capture_output=True, text=True, timeout=900, check=False)


def changed_counts(result):
    return {name: int(changed) for name, changed in
            re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", result.stdout, re.M)}


def docker_info(host):
    return host.check_output("docker info")


def starts(host):
    """How often systemd has started docker.service since the node booted."""
    journal = host.check_output("journalctl --unit=docker.service --no-pager --output=cat")
    return len(re.findall(r"^Started docker\.service", journal, re.M))


# --- settings ------------------------------------------------------------------------------


def test_docker_info_shows_the_settings(host):
    info = docker_info(host)
    assert re.search(r"Registry Mirrors:\s+" + re.escape(MIRROR) + "/", info), info
    assert re.search(r"Insecure Registries:\s+192\.168\.61\.1:5000", info), info
    assert "Cgroup Driver: systemd" in info
    assert "Docker Root Dir: /var/lib/docker" in info
    assert "Live Restore Enabled: true" in info


def test_each_node_has_its_install_method(host):
    name = host.backend.get_hostname()
    if name == "node1":
        assert host.package("docker.io").is_installed
        assert not host.file("/usr/local/bin/dockerd").exists
        dropin = host.file("/etc/systemd/system/docker.service.d/10-corral.conf").content_string
        assert "ExecStart=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock\n" in dropin
    else:
        assert not host.package("docker.io").is_installed
        assert host.file("/usr/local/bin/dockerd").mode == 0o755
        unit = host.file("/etc/systemd/system/docker.service").content_string
        assert "ExecStart=/usr/local/bin/dockerd\n" in unit


def test_no_setting_is_both_a_flag_and_in_daemon_json(host):
    config = json.loads(host.file("/etc/docker/daemon.json").content_string)
    command = host.check_output("systemctl show --property=ExecStart docker.service")
    assert "$DOCKER_OPTS" not in command
    for key in config:
        assert f"--{key}" not in command, key


def test_the_login_user_is_in_the_docker_group(host):
    assert "docker" in host.check_output("id -nG corral").split()


def test_a_locally_loaded_image_runs(host):
    result = host.ansible("copy", f"src={BUSYBOX_TAR} dest=/root/busybox.tar mode=0600", become=True, check=False)
    assert not result.get("failed"), result
    host.check_output("docker load --input /root/busybox.tar")
    assert host.check_output(f"docker run --rm {BUSYBOX} echo hello from busybox") == "hello from busybox"


# --- a mirror change restarts Docker once --------------------------------------------------


def test_a_mirror_change_restarts_docker_once_then_changes_nothing():
    hosts = {name: node(name) for name in NODES}
    before = {name: (starts(h), h.check_output("systemctl show --property=MainPID --value docker.service"))
              for name, h in hosts.items()}
    extra = json.dumps({"docker_registry_mirrors": NEW_MIRRORS})
    result = run_playbook("-e", extra)
    assert result.returncode == 0, result.stdout + result.stderr
    for name, h in hosts.items():
        assert starts(h) == before[name][0] + 1, name
        assert h.check_output("systemctl show --property=MainPID --value docker.service") != before[name][1]
        info = docker_info(h)
        assert all(mirror + "/" in info for mirror in NEW_MIRRORS), info
        assert MIRROR + "/" not in info
    again = run_playbook("-e", extra)
    assert again.returncode == 0, again.stdout + again.stderr
    assert changed_counts(again) == {name: 0 for name in NODES}, again.stdout
    for name, h in hosts.items():
        assert starts(h) == before[name][0] + 1, name


# --- bad values stop the run before any change ----------------------------------------------

BAD_VALUES = {
    # Refused by the role's argument spec (choices), before its preflight.
    "unknown method": ({"docker_install_method": "snap"}, ["docker_install_method", "snap", "ce, legacy"]),
    "mirror not http(s)": ({"docker_registry_mirrors": ["ftp://mirror.lab.invalid"]},
                           ["docker_registry_mirrors", "ftp://mirror.lab.invalid", "http://"]),
    "graph and data-root": ({"docker_daemon_options": {"graph": "/a", "data-root": "/b"}},
                            ["graph and data-root", "docker_data_root"]),
    "flag set in daemon.json too": ({"docker_dockerd_extra_flags": ["--log-driver=journald"]},
                                    ["docker_dockerd_extra_flags", "log-driver"]),
    "image archive not on the controller": (
        {"docker_image_archives": [{"src": "/nonexistent/rancher.tar", "image": "rancher/rancher:v2.5.16"}]},
        ["docker_image_archives", "/nonexistent/rancher.tar not found on the controller"]),
}


@pytest.fixture(scope="module")
def refused_runs():
    """Every bad value's run, all at once: each stops in its first play and only reads the hosts."""
    with ThreadPoolExecutor(max_workers=len(BAD_VALUES)) as pool:
        runs = {case: pool.submit(run_playbook, "-e", json.dumps(extra)) for case, (extra, _words) in BAD_VALUES.items()}
        return {case: run.result() for case, run in runs.items()}


@pytest.mark.parametrize("case", BAD_VALUES, ids=list(BAD_VALUES))
def test_a_bad_value_fails_before_any_change(case, refused_runs):
    _extra, words = BAD_VALUES[case]
    result = refused_runs[case]
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    failure = output[output.index("[ERROR]"):] if "[ERROR]" in output else output
    for word in words:
        assert word in failure, f"{word!r} missing from:\n{failure}"
    assert "corral.cluster.docker : Install" not in output, output
    assert set(changed_counts(result).values()) == {0}, output


# --- data-root move -------------------------------------------------------------------------


def test_a_move_onto_a_non_empty_target_or_under_a_running_container_is_refused(tmp_path):
    """One run: node1's new data root holds files that are no copy of Docker's, node2 runs a
    container. Each node is refused with its own message; nothing changes on either."""
    node1, node2 = node("node1"), node("node2")
    node1.check_output("mkdir -p /appdata/other && echo precious > /appdata/other/file")
    node2.check_output(f"docker run --detach --name corral-busy {BUSYBOX} sleep 600")
    try:
        # An inventory source of its own: each node its own data root.
        extra = tmp_path / "data-roots.yml"
        extra.write_text(json.dumps({"all": {"hosts": {"node1": {"docker_data_root": "/appdata/other"},
                                                       "node2": {"docker_data_root": NEW_ROOT}}}}))
        result = run_playbook("-i", str(extra), "-e", json.dumps({"docker_registry_mirrors": NEW_MIRRORS}))
        output = result.stdout + result.stderr
        assert result.returncode != 0, output
        assert "/appdata/other, which is not empty" in output, output
        assert "where 1 container(s) run" in output and "docker stop" in output, output
        assert changed_counts(result) == {"node1": 0, "node2": 0}, output
        assert "Docker Root Dir: /var/lib/docker" in docker_info(node1)
        assert node1.file("/appdata/other/file").content_string == "precious\n"
        assert "Docker Root Dir: /var/lib/docker" in docker_info(node2)
        assert node2.check_output("docker inspect --format '{{.State.Running}}' corral-busy") == "true"
        assert not node2.file(NEW_ROOT).exists
    finally:
        node2.check_output("docker rm --force corral-busy")


def test_the_data_root_moves_with_its_images_and_a_rerun_changes_nothing():
    hosts = {name: node(name) for name in NODES}
    images = {name: h.check_output("docker image ls --quiet --no-trunc") for name, h in hosts.items()}
    assert all(images.values())
    extra = json.dumps({"docker_registry_mirrors": NEW_MIRRORS, "docker_data_root": NEW_ROOT})
    result = run_playbook("-e", extra)
    assert result.returncode == 0, result.stdout + result.stderr
    for name, h in hosts.items():
        assert f"Docker Root Dir: {NEW_ROOT}" in docker_info(h), name
        assert h.check_output("docker image ls --quiet --no-trunc") == images[name]
        assert h.check_output(f"docker run --rm {BUSYBOX} echo moved") == "moved"
        assert h.file(f"{NEW_ROOT}/image").is_directory
        # The old data root is left in place.
        assert h.file("/var/lib/docker/image").is_directory
    again = run_playbook("-e", extra)
    assert again.returncode == 0, again.stdout + again.stderr
    assert changed_counts(again) == {name: 0 for name in NODES}, again.stdout
