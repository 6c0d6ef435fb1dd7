"""The etcd_member module against a real TLS etcd cluster on 127.0.0.1.

Needs the etcd server and etcdctl binaries: Debian's etcd-server and etcd-client packages
(``apt-get install etcd-server etcd-client``) or CORRAL_ETCD / CORRAL_ETCDCTL pointing at upstream ones.
Installs nothing itself and skips without them.

A CA and server/peer/client certificates for 127.0.0.1 are made with module_utils/pki.py; members
listen on free high ports of 127.0.0.1 only, with client-certificate authentication on the client and
the peer port. The module runs as in a play (``etcd_member.run``) with a stand-in AnsibleModule whose
run_command runs etcdctl with subprocess, no shell. Every etcd process is killed when its test or the
module ends, and every wait is bounded.
"""

from __future__ import annotations

import datetime
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Optional

import pytest

# Importable as ansible_collections.corral.cluster (playbooks/collections/.../cluster links to the repository),
# as tests/unit/conftest.py does for the unit tests.
COLLECTIONS = Path(__file__).resolve().parents[2] / "playbooks" / "collections"
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))

from ansible_collections.corral.cluster.plugins.module_utils import etcd, pki  # noqa: E402
from ansible_collections.corral.cluster.plugins.modules import etcd_member, etcd_member_info  # noqa: E402

ETCD = os.environ.get("CORRAL_ETCD", "/usr/bin/etcd")
ETCDCTL = os.environ.get("CORRAL_ETCDCTL") or shutil.which("etcdctl") or "/usr/bin/etcdctl"
HOST = "127.0.0.1"
START_TIMEOUT = 30  # seconds for a member to serve or to show up as started
RECONFIG_TIMEOUT = 30  # etcd refuses a removal until the member has been connected for ~5 seconds
ETCDCTL_TIMEOUT = 30

pytestmark = pytest.mark.skipif(
    not (os.access(ETCD, os.X_OK) and os.access(ETCDCTL, os.X_OK)),
    reason=f"needs etcd at {ETCD} and etcdctl at {ETCDCTL}: apt-get install etcd-server etcd-client "
    "(or set CORRAL_ETCD and CORRAL_ETCDCTL)",
)


# --- Certificates ---------------------------------------------------------------------------


def write_pki(root: Path, ca_name: str = "ca") -> dict[str, Path]:
    """A CA, a peer certificate (server and client auth, 127.0.0.1) per member and a client certificate."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = pki.generate_key("ecdsa")
    ca = pki.build_certificate(pki.CertSpec(ca_name, "ca", common_name=f"{ca_name} test etcd CA"), ca_key, ca_key,
                               None, 2, now)
    files = {"ca": _write(root, ca_name, ca_key, ca)}
    for name, profile in (("m1", "peer"), ("m2", "peer"), ("client", "client")):
        spec = pki.CertSpec(name, profile, common_name=name, issuer=ca_name, dns_names=("localhost",),
                            ip_addresses=(HOST,) if profile == "peer" else ())
        key = pki.generate_key("ecdsa")
        files[name] = _write(root, name, key, pki.build_certificate(spec, key, ca_key, ca, 1, now))
    return files


def _write(root: Path, name: str, key: Any, cert: Any) -> Path:
    from cryptography.hazmat.primitives import serialization

    root.mkdir(parents=True, exist_ok=True)
    (root / f"{name}.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (root / f"{name}.key").chmod(0o600)
    (root / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return root / name  # .crt and .key beside each other


# --- etcd processes -------------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    """Free high ports on 127.0.0.1, all held open until all are found so that they differ."""
    sockets = []
    try:
        for _unused in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((HOST, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class Etcd:
    """One etcd member process on 127.0.0.1."""

    def __init__(self, workdir: Path, name: str, certs: dict[str, Path]) -> None:
        self.workdir = workdir
        self.name = name
        self.certs = certs
        self.client_port, self.peer_port = free_ports(2)
        self.process: Optional[subprocess.Popen] = None
        self.log = workdir / f"{name}.log"

    @property
    def client_url(self) -> str:
        return f"https://{HOST}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"https://{HOST}:{self.peer_port}"

    def start(self, initial_cluster: str, state: str) -> None:
        cert = self.certs[self.name]
        ca = f"{self.certs['ca']}.crt"
        command = [
            ETCD,
            f"--name={self.name}",
            f"--data-dir={self.workdir / (self.name + '.etcd')}",
            f"--listen-client-urls={self.client_url}",
            f"--advertise-client-urls={self.client_url}",
            f"--listen-peer-urls={self.peer_url}",
            f"--initial-advertise-peer-urls={self.peer_url}",
            f"--initial-cluster={initial_cluster}",
            f"--initial-cluster-state={state}",
            "--initial-cluster-token=corral-test",
            f"--cert-file={cert}.crt",
            f"--key-file={cert}.key",
            f"--trusted-ca-file={ca}",
            "--client-cert-auth",
            f"--peer-cert-file={cert}.crt",
            f"--peer-key-file={cert}.key",
            f"--peer-trusted-ca-file={ca}",
            "--peer-client-cert-auth",
            "--logger=zap",
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def tail(self, lines: int = 15) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def wait_until(what: str, check: Callable[[], Any], timeout: float, processes: tuple = ()) -> Any:
    """Poll ``check`` until it returns something true; fail after ``timeout`` seconds or when a process died."""
    deadline = time.monotonic() + timeout
    last_error: Optional[BaseException] = None
    while time.monotonic() < deadline:
        for process in processes:
            if not process.alive():
                pytest.fail(f"etcd {process.name} exited while waiting for {what}:\n{process.tail()}")
        try:
            result = check()
        except Failed as exc:
            last_error = exc
        else:
            if result:
                return result
        time.sleep(0.3)
    logs = "\n".join(f"--- {process.name}\n{process.tail()}" for process in processes)
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last error: {last_error})\n{logs}")


# --- The module, run as in a play -----------------------------------------------------------


class Failed(Exception):
    def __init__(self, msg: str, **result: Any) -> None:
        super().__init__(msg)
        self.result = {"msg": msg, **result}


class SubprocessModule:
    """Just what etcd_member.run uses of AnsibleModule; run_command runs argv without a shell."""

    def __init__(self, params: dict[str, Any], check_mode: bool = False) -> None:
        self.params = params
        self.check_mode = check_mode
        self.commands: list[list[str]] = []

    def run_command(self, args: list, check_rc: bool = False, environ_update: Optional[dict] = None) -> tuple:
        assert isinstance(args, list) and not check_rc
        self.commands.append(args)
        completed = subprocess.run(  # noqa: S603 - argv from the module, no shell
            args, env={**os.environ, **(environ_update or {})}, capture_output=True, text=True,
            timeout=ETCDCTL_TIMEOUT, check=False,
        )
        return completed.returncode, completed.stdout, completed.stderr

    def fail_json(self, msg: str, **result: Any) -> None:
        raise Failed(msg, **result)


class Cluster:
    def __init__(self, workdir: Path, certs: dict[str, Path], first: Etcd) -> None:
        self.workdir = workdir
        self.certs = certs
        self.first = first

    def params(self, **overrides: Any) -> dict[str, Any]:
        client = self.certs["client"]
        return {
            "endpoints": [self.first.client_url],
            "ca_cert": f"{self.certs['ca']}.crt",
            "cert": f"{client}.crt",
            "key": f"{client}.key",
            "etcdctl": ETCDCTL,
            "state": "present",
            "name": None,
            "peer_urls": None,
            "learner": False,
            **overrides,
        }

    def run(self, check_mode: bool = False, **overrides: Any) -> dict[str, Any]:
        return etcd_member.run(SubprocessModule(self.params(**overrides), check_mode=check_mode))

    def info(self, **overrides: Any) -> dict[str, Any]:
        """etcd_member_info with the connection options (and their overrides) of etcd_member."""
        params = {name: value for name, value in self.params(**overrides).items() if name in etcd.CONNECTION_ARGS}
        return etcd_member_info.run(SubprocessModule(params))

    def members(self) -> list[dict[str, Any]]:
        return self.info()["members"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("etcd")
    certs = write_pki(workdir / "pki")
    first = Etcd(workdir, "m1", certs)
    try:
        first.start(f"m1={first.peer_url}", "new")
        result = Cluster(workdir, certs, first)
        wait_until("the first member to serve", result.members, START_TIMEOUT, (first,))
        yield result
    finally:
        first.stop()


@pytest.fixture
def second(cluster: Cluster) -> Iterator[Etcd]:
    member = Etcd(cluster.workdir, "m2", cluster.certs)
    try:
        yield member
    finally:
        member.stop()


def names(members: list[dict[str, Any]]) -> list[str]:
    return sorted(member["name"] for member in members)


def test_info_shows_the_single_member(cluster: Cluster) -> None:
    result = cluster.info()
    assert result["changed"] is False
    [member] = result["members"]
    assert member["name"] == "m1" and member["started"] and not member["is_learner"]
    assert member["peer_urls"] == [cluster.first.peer_url] and member["client_urls"] == [cluster.first.client_url]
    assert int(member["id"], 16) > 0


def test_check_mode_add_changes_nothing(cluster: Cluster) -> None:
    result = cluster.run(check_mode=True, state="present", name="m9", peer_urls=[f"https://{HOST}:1"])
    assert result["changed"] and result["action"] == "add" and len(result["members"]) == 2
    assert names(cluster.members()) == ["m1"]


def test_add_start_and_remove_a_second_member(cluster: Cluster, second: Etcd) -> None:
    added = cluster.run(state="present", name="m2", peer_urls=[second.peer_url])
    assert added["changed"] and added["action"] == "add"
    assert added["initial_cluster_state"] == "existing"
    assert sorted(added["initial_cluster"].split(",")) == [f"m1={cluster.first.peer_url}", f"m2={second.peer_url}"]

    # Added, not started: present again is unchanged (an unstarted member with these peer URLs).
    again = cluster.run(state="present", name="m2", peer_urls=[second.peer_url])
    assert not again["changed"] and again["member"]["id"] == added["member"]["id"] and not again["member"]["started"]

    second.start(added["initial_cluster"], added["initial_cluster_state"])

    def both_started() -> Optional[list[dict[str, Any]]]:
        members = cluster.members()
        return members if len(members) == 2 and all(m["started"] for m in members) else None

    members = wait_until("m2 to start", both_started, START_TIMEOUT, (cluster.first, second))
    assert names(members) == ["m1", "m2"]
    assert {m["id"] for m in members if m["name"] == "m2"} == {added["member"]["id"]}
    assert not cluster.run(state="present", name="m2", peer_urls=[second.peer_url])["changed"]

    # etcd refuses to remove a member connected for less than about 5 seconds ("unhealthy cluster").
    def remove() -> Optional[dict[str, Any]]:
        try:
            return cluster.run(state="absent", name="m2")
        except Failed as exc:
            if "unhealthy cluster" not in str(exc):
                raise
            return None

    removed = wait_until("etcd to accept removing m2", remove, RECONFIG_TIMEOUT, (cluster.first,))
    assert removed["changed"] and removed["member"]["name"] == "m2" and names(removed["members"]) == ["m1"]
    assert names(cluster.members()) == ["m1"]
    assert not cluster.run(state="absent", name="m2")["changed"]


def test_learner_is_added_and_removed_by_peer_urls_without_starting(cluster: Cluster) -> None:
    peer_url = f"https://{HOST}:{free_ports(1)[0]}"
    added = cluster.run(state="present", name="m3", peer_urls=[peer_url], learner=True)
    assert added["changed"] and added["member"]["is_learner"]
    [learner] = [m for m in cluster.members() if m["peer_urls"] == [peer_url]]
    assert learner["is_learner"] and not learner["started"] and learner["name"] == ""

    check = cluster.run(check_mode=True, state="absent", peer_urls=[peer_url])
    assert check["changed"] and len(cluster.members()) == 2
    removed = cluster.run(state="absent", peer_urls=[peer_url])
    assert removed["changed"] and removed["member"]["id"] == learner["id"]
    assert names(cluster.members()) == ["m1"]


def test_removing_the_last_member_is_refused(cluster: Cluster) -> None:
    with pytest.raises(Failed, match="last member of the cluster"):
        cluster.run(state="absent", name="m1")
    assert names(cluster.members()) == ["m1"]


def test_a_wrong_ca_fails_with_the_command_and_a_hint(cluster: Cluster) -> None:
    other = write_pki(cluster.workdir / "other-pki", ca_name="other")
    with pytest.raises(Failed) as failed:
        cluster.info(ca_cert=f"{other['ca']}.crt")
    result = failed.value.result
    assert result["rc"] != 0 and result["cmd"][0] == ETCDCTL and result["hint"]
    assert result["msg"].startswith("etcdctl member list failed:")
    assert f"{cluster.first.client_url} accepts connections, so the TLS handshake most likely failed" in result["hint"]
