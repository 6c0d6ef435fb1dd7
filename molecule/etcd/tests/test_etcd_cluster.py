"""A real three-member TLS etcd cluster, checked the way an operator would, in order:
TLS and client-certificate auth, a member down, backup and restore, scale to four and back,
and a converge that regenerates no certificate."""

import json
import os
import re
import stat
import subprocess
import time
from pathlib import Path

import pytest
import testinfra

PROJECT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
INVENTORY = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "inventory")
# The lab keeps each lab's cluster state (PKI, snapshots) in .lab/NAME/state.
STATE_DIR = PROJECT / ".lab" / f"molecule-{os.environ['MOLECULE_SCENARIO_NAME']}" / "state"
PKI_DIR = STATE_DIR / "pki"
BACKUP_DIR = STATE_DIR / "backups" / "etcd"
MEMBERS = ["node1", "node2", "node3"]
ETCD_PKI = "/etc/etcd/pki"
TLS = f"--cacert={ETCD_PKI}/ca.crt --cert={ETCD_PKI}/healthcheck-client.crt --key={ETCD_PKI}/healthcheck-client.key"


def node(name):
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={INVENTORY}", sudo=True)


def address(name):
    return node(name).ansible.get_variables()["ansible_host"]


def etcdctl(on, args, endpoints=None, tls=TLS):
    endpoints = endpoints or ",".join(f"https://{address(m)}:2379" for m in MEMBERS)
    return node(on).run(f"ETCDCTL_API=3 /usr/local/bin/etcdctl --endpoints={endpoints} {tls} {args}")


def member_names(on="node1"):
    result = etcdctl(on, "member list -w json")
    assert result.rc == 0, result.stderr
    return sorted(m.get("name", "") for m in json.loads(result.stdout)["members"])


def wait_healthy(on, endpoint, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if etcdctl(on, "endpoint health", endpoints=endpoint).rc == 0:
            return
        time.sleep(2)
    pytest.fail(f"{endpoint} not healthy within {timeout} s")


def playbook(name, *extra, umask=None):
    env = dict(os.environ, ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_NOCOLOR="1", ANSIBLE_COLLECTIONS_PATH=str(PROJECT / "playbooks" / "collections"))
    result = subprocess.run(["ansible-playbook", "-i", str(INVENTORY), *extra,
                             str(PROJECT / "playbooks" / name)],
                            env=env, cwd=PROJECT, capture_output=True, text=True, timeout=900, check=False,
                            umask=-1 if umask is None else umask)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    return result.stdout


def changed_counts(output):
    return {host: int(n) for host, n in re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", output, re.M)}


def serials():
    found = {}
    for member in MEMBERS:
        found[member] = node(member).check_output(f"openssl x509 -noout -serial -in {ETCD_PKI}/server.crt")
    return found


def test_cluster_is_healthy_over_tls_with_the_generated_client_cert():
    result = etcdctl("node1", "endpoint health --cluster")
    assert result.rc == 0, result.stderr
    assert (result.stdout + result.stderr).count("is healthy") == 3
    assert member_names() == MEMBERS


def test_plain_http_is_refused():
    result = etcdctl("node1", "endpoint health --dial-timeout=3s", endpoints=f"http://{address('node1')}:2379", tls="")
    assert result.rc != 0


def test_a_client_without_certificate_is_refused():
    result = etcdctl("node1", "endpoint health --dial-timeout=3s", endpoints=f"https://{address('node1')}:2379",
                     tls=f"--cacert={ETCD_PKI}/ca.crt")
    assert result.rc != 0
    assert "bad certificate" in result.stderr or "certificate required" in result.stderr or "unhealthy" in result.stderr


def test_data_files_and_keys_are_private(host):
    if host.backend.get_hostname() not in MEMBERS:
        pytest.skip("not an etcd member")
    assert host.file("/var/lib/etcd").mode == 0o700
    assert host.file("/var/lib/etcd").user == "etcd"
    for key in ("server.key", "peer.key", "healthcheck-client.key"):
        assert host.file(f"{ETCD_PKI}/{key}").mode == 0o600
    assert host.service("etcd").is_enabled
    assert host.service("etcd").is_running


def test_one_member_down_the_cluster_still_takes_writes_and_it_rejoins():
    node("node3").check_output("systemctl stop etcd")
    try:
        put = etcdctl("node1", "put /corral/while-node3-down yes",
                      endpoints=f"https://{address('node1')}:2379")
        assert put.rc == 0, put.stderr
    finally:
        node("node3").check_output("systemctl start etcd")
    node3 = f"https://{address('node3')}:2379"
    wait_healthy("node3", node3)
    got = etcdctl("node3", "get /corral/while-node3-down --print-value-only", endpoints=node3)
    assert got.stdout.strip() == "yes"


def test_backup_then_wipe_then_restore_brings_the_key_back():
    assert etcdctl("node1", "put /corral/backup-test before-backup").rc == 0
    playbook("etcd_backup.yml")
    snapshots = sorted(BACKUP_DIR.glob("snapshot-*.db"))
    assert snapshots, f"no snapshot in {BACKUP_DIR}"
    # Written after the backup: a real restore from the snapshot must not have it.
    assert etcdctl("node1", "put /corral/backup-test after-backup").rc == 0
    for member in MEMBERS:
        node(member).check_output("systemctl stop etcd && rm -rf /var/lib/etcd")
    playbook("etcd_restore.yml", "-e", f"etcd_restore_snapshot={snapshots[-1]}")
    got = etcdctl("node2", "get /corral/backup-test --print-value-only")
    assert got.stdout.strip() == "before-backup"
    assert member_names() == MEMBERS


def test_backups_beyond_the_retention_are_removed_and_the_rest_is_private_even_with_umask_002():
    # Two more snapshots with etcd_backup_keep=2: the restore test's is removed. A snapshot is the
    # whole keyspace (Secrets included): 0600 in 0700 directories, as is the PKI, whatever the umask.
    for _unused in range(2):
        playbook("etcd_backup.yml", "-e", "etcd_backup_keep=2", umask=0o002)
        time.sleep(1)  # snapshot names carry the time to the second
    assert len(list(BACKUP_DIR.glob("snapshot-*.db"))) == 2
    modes = {path: stat.S_IMODE(path.stat().st_mode) for path in [STATE_DIR, *STATE_DIR.rglob("*")]}
    loose = {str(path.relative_to(STATE_DIR)): oct(mode) for path, mode in modes.items()
             if mode != (0o700 if path.is_dir() else 0o600)}
    assert not loose, f"readable by others in {STATE_DIR}: {loose}"


def test_pki_check_prints_days_left_of_every_certificate():
    output = playbook("pki_check.yml")
    lines = re.findall(r"([\w./-]+\.crt) \(([^)]*)\): (\d+) days left", output)
    files = {name for name, _cn, _days in lines}
    assert {"etcd/ca.crt", "etcd/server-node1.crt", "etcd/peer-node3.crt", "admin.crt"} <= files
    assert all(364 <= int(days) <= 3650 for _name, _cn, days in lines)


def test_scale_to_four_members_and_back(tmp_path):
    four = tmp_path / "four-members.yml"
    four.write_text(json.dumps({"all": {"children": {"etcd": {"hosts": {"node4": {}}}}}}))
    playbook("etcd_scale.yml", "-i", str(four))
    assert member_names() == ["node1", "node2", "node3", "node4"]
    wait_healthy("node4", f"https://{address('node4')}:2379")
    playbook("etcd_remove_member.yml", "-i", str(four), "-e", "etcd_remove_member=node4")
    assert member_names() == MEMBERS
    assert not node("node4").service("etcd").is_running


def test_renewal_on_request_gives_every_member_new_certificates_once():
    """pki_renew_issued_before: every leaf certificate issued before the time is reissued and rolled out
    (members restarted one at a time); the same request again, a second converge, changes nothing."""
    before = serials()
    requested = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    time.sleep(1)
    output = playbook("etcd.yml", "-e", f"pki_renew_issued_before={requested}")
    renewed = serials()
    assert all(renewed[member] != before[member] for member in MEMBERS), (before, renewed)
    for member in MEMBERS:
        assert node(member).file(f"{ETCD_PKI}/server.key").mode == 0o600
    health = etcdctl("node1", "endpoint health --cluster")
    assert (health.stdout + health.stderr).count("is healthy") == 3, output[-3000:]
    controller_before = {p.name: p.read_bytes() for p in PKI_DIR.rglob("*.crt")}
    output = playbook("etcd.yml", "-e", f"pki_renew_issued_before={requested}")
    assert set(changed_counts(output).values()) == {0}, output[-4000:]
    assert serials() == renewed
    assert {p.name: p.read_bytes() for p in PKI_DIR.rglob("*.crt")} == controller_before
