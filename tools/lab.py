"""The corral.cluster lab: Debian systemd containers that stand in for real hosts.

Nodes are reached the way real hosts are: over SSH with a key, as a non-root user with
passwordless sudo, so playbooks exercise `become`. Run through `tools/lab`, which installs
what the lab needs first.
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from lab_common import LAB_REGISTRY, MIRROR, ROOT, STATE, debootstrap_image, docker, log, run, write_private

LABEL = "io.corral.lab"
USER = "corral"
SUITE = "bookworm"
# Several checkouts or sessions sharing this machine: CORRAL_LAB_NS=N (1-9) gives every lab they
# start names of their own (nsN-NAME) and subnets of their own (third octet + 20*N), so that
# their labs, molecule scenarios included, never collide. Unset or 0: the names as given.
LAB_NS = int(os.environ.get("CORRAL_LAB_NS") or 0)
# The artifact sets of tools/lab_artifacts.py, by Kubernetes minor: the lab deploys one.
KUBERNETES_SETS = ("1.36", "1.35", "1.20")

# Packages of the node image: what a minimal real host has, plus what the lab needs to
# reach it (sshd, sudo, python3 for Ansible). Everything else is the roles' job.
IMAGE_PACKAGES = [
    "systemd", "systemd-sysv", "dbus", "python3", "iproute2", "procps", "ca-certificates",
    "sudo", "openssh-server", "iputils-ping", "less",
]

# Capabilities of a privileged container minus CAP_SYS_RESOURCE, which this VM's bounding
# set lacks (so --privileged fails here).
CAPABILITIES = (
    "CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP "
    "LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER "
    "SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_TIME "
    "SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN "
    "SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ"
).split()

# Units baked into the image. Docker mounts /proc/sys read-only; kubelet and sysctl need it
# writable, and the docker API (unlike its CLI) refuses systempaths=unconfined, so the node
# remounts it itself. Host keys are made on first boot so that no two nodes share them.
UNITS = {
    "corral-lab-procsys.service": """\
[Unit]
Description=Make /proc/sys writable inside the lab container
DefaultDependencies=no
Before=sysinit.target systemd-sysctl.service
ConditionPathIsMountPoint=/proc/sys

[Service]
Type=oneshot
ExecStart=/bin/mount -o remount,rw,bind /proc/sys

[Install]
WantedBy=sysinit.target
""",
    "corral-lab-hostkeys.service": """\
[Unit]
Description=Generate this node's own SSH host keys
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
""",
}


# ---------------------------------------------------------------- image

def image_recipe() -> str:
    return json.dumps({"suite": SUITE, "packages": IMAGE_PACKAGES, "units": UNITS}, sort_keys=True)


def default_image() -> str:
    digest = hashlib.sha256(image_recipe().encode()).hexdigest()[:12]
    return f"corral-lab-node:{SUITE}-{digest}"


def image_exists(image: str) -> bool:
    return bool(docker("images", "-q", image))


def build_image(image: str) -> None:
    """debootstrap a minimal Debian with systemd and import it; cached by recipe hash."""
    if image_exists(image):
        return

    def customize(root: Path) -> None:
        for name, text in UNITS.items():
            (root / "etc/systemd/system" / name).write_text(text)
        # Enable our units and sshd offline; mask what has no meaning in a container.
        run("chroot", str(root), "systemctl", "enable", *UNITS, "ssh.service", capture=True)
        run("chroot", str(root), "systemctl", "mask", "getty@tty1.service",
            "serial-getty@.service", "systemd-udevd.service", "systemd-firstboot.service",
            capture=True)
        for key in (root / "etc/ssh").glob("ssh_host_*"):
            key.unlink()

    debootstrap_image(image, IMAGE_PACKAGES, SUITE, ['CMD ["/lib/systemd/systemd"]', "ENV container=docker"],
                      customize)


# ---------------------------------------------------------------- nodes

def namespaced_subnet(subnet: str) -> str:
    """The subnet of this lab namespace (CORRAL_LAB_NS): the third octet moved by 20 per namespace."""
    net = ipaddress.IPv4Network(subnet)
    if not LAB_NS:
        return str(net)
    moved = ipaddress.IPv4Network((int(net.network_address) + (20 * LAB_NS << 8), net.prefixlen))
    if not moved.is_private or (int(moved.network_address) >> 16) != (int(net.network_address) >> 16):
        raise SystemExit(f"CORRAL_LAB_NS={LAB_NS} moves {net} out of its /16: use a smaller namespace or subnet")
    return str(moved)


class Lab:
    def __init__(self, name: str) -> None:
        self.name = f"ns{LAB_NS}-{name}" if LAB_NS else name
        self.dir = STATE / name
        # Namespaced too: two namespaces running the same scenario must not share (or remove) a network.
        self.network = f"corral-lab-{self.name}"

    @property
    def key(self) -> Path:
        return STATE / "ssh" / "id_ed25519"

    def container(self, node: str) -> str:
        return f"{self.name}-{node}"

    def containers(self) -> list[str]:
        out = docker("ps", "-a", "--filter", f"label={LABEL}={self.name}", "--format", "{{.Names}}")
        return sorted(out.split())

    def ensure_key(self) -> None:
        if not self.key.exists():
            self.key.parent.mkdir(parents=True, exist_ok=True)
            run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "corral-lab", "-f", str(self.key))

    def ensure_network(self, subnet: str) -> ipaddress.IPv4Network:
        net = ipaddress.IPv4Network(subnet)
        if not docker("network", "ls", "-q", "--filter", f"name=^{self.network}$"):
            docker("network", "create", "--driver", "bridge", "--subnet", str(net),
                   "--gateway", str(net.network_address + 1), "--label", f"{LABEL}={self.name}",
                   self.network)
        return net

    def start_node(self, node: str, address: str, image: str) -> None:
        name = self.container(node)
        state = docker("inspect", "-f", "{{.State.Running}}", name, check=False)
        if state == "true":
            return
        if state == "false":
            docker("start", name)
            return
        caps = [f"--cap-add={cap}" for cap in CAPABILITIES]
        docker(
            "run", "-d", "--name", name, "--hostname", node,
            "--label", f"{LABEL}={self.name}", "--network", self.network, "--ip", address,
            "--cap-drop=ALL", *caps,
            "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
            "--cgroupns=host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
            "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
            "--device", "/dev/kmsg",
            # overlay on overlay fails: the runtimes' state lives on anonymous volumes.
            "-v", "/var/lib/docker", "-v", "/var/lib/containerd",
            # More anonymous volumes, e.g. CORRAL_LAB_EXTRA_VOLUMES=/appdata for a data disk.
            *[arg for path in os.environ.get("CORRAL_LAB_EXTRA_VOLUMES", "").split() for arg in ("-v", path)],
            "-e", "container=docker", "--stop-signal", "SIGRTMIN+3",
            image, "/lib/systemd/systemd",
        )

    def wait_booted(self, node: str, timeout: int = 120) -> None:
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            state = docker("exec", self.container(node), "systemctl", "is-system-running",
                           check=False)
            if state in ("running", "degraded"):
                return
            time.sleep(1)
        raise SystemExit(f"{node}: systemd did not finish booting in {timeout} s (state: {state})")

    def provision_user(self, node: str) -> None:
        """The login user: key-only SSH and passwordless sudo, as on a cloud image."""
        pubkey = self.key.with_suffix(".pub").read_text().strip()
        script = f"""
set -e
id -u {USER} >/dev/null 2>&1 || useradd -m -s /bin/bash {USER}
printf '%s\\n' '{USER} ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/{USER}
chmod 0440 /etc/sudoers.d/{USER}
home=$(getent passwd {USER} | cut -d: -f6)
install -d -m 0700 -o {USER} -g {USER} "$home/.ssh"
printf '%s\\n' {shlex.quote(pubkey)} > "$home/.ssh/authorized_keys"
chown {USER}:{USER} "$home/.ssh/authorized_keys"
chmod 0600 "$home/.ssh/authorized_keys"
"""
        docker("exec", "-i", self.container(node), "sh", "-c", script)

    def ssh_args(self) -> list[str]:
        return ["-i", str(self.key), "-o", "StrictHostKeyChecking=no",
                "-o", f"UserKnownHostsFile={self.dir / 'known_hosts'}",
                "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR"]

    def wait_ssh(self, node: str, address: str, timeout: int = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ok = subprocess.run(["ssh", *self.ssh_args(), f"{USER}@{address}", "sudo", "-n", "true"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False).returncode == 0
            if ok:
                return
            time.sleep(1)
        raise SystemExit(f"{node}: no SSH login as {USER} with sudo at {address} within {timeout} s")

    def install_python36(self, node: str) -> str:
        """Copy this machine's Python 3.6 into the node at the same path (its binary finds its library
        there); returns the interpreter. CentOS 7 and EL 8 hosts have Python 3.6."""
        found = sorted(Path("/root/.pyenv/versions").glob("3.6*/bin/python3.6"))
        if not found:
            raise SystemExit("--python36: no Python 3.6 under /root/.pyenv/versions on this machine")
        python = found[-1]
        version = python.parent.parent
        present = subprocess.run(["docker", "exec", self.container(node), str(python), "-c", "import ssl, json"],
                                 capture_output=True, check=False)
        if present.returncode == 0:
            return str(python)
        log(f"{node}: copying {version} into the node (Ansible runs its modules there with it)")
        excluded = ["lib/python3.6/test", "lib/python3.6/site-packages", "include", "share", "lib/python3.6/idlelib",
                    "lib/python3.6/config-3.6m-x86_64-linux-gnu"]
        archive = subprocess.run(["tar", "-C", "/", *[f"--exclude={str(version)[1:]}/{path}" for path in excluded],
                                  "--exclude=__pycache__", "-cf", "-", str(version)[1:]],
                                 capture_output=True, check=True).stdout
        subprocess.run(["docker", "exec", "-i", self.container(node), "tar", "-C", "/", "-xf", "-"], input=archive,
                       check=True)
        # The login user runs Python without sudo too (facts, become_user): /root must be traversable.
        docker("exec", self.container(node), "chmod", "755", "/root", "/root/.pyenv", str(version.parent))
        docker("exec", self.container(node), str(python), "-c", "import ssl, json")
        return str(python)

    def up(self, nodes: int, control_planes: int, subnet: str, image: str,
           inventory_file: Path | None = None, rancher: bool = False, kubernetes: str = KUBERNETES_SETS[0],
           docker_nodes: int = 0, python36: list[str] | None = None, upgrade_to: str | None = None) -> dict[str, str]:
        if control_planes < 1 or control_planes > nodes:
            raise SystemExit("--control-planes must be between 1 and --nodes")
        if rancher and kubernetes != "1.20":
            raise SystemExit("--rancher runs the contract stand-in of Rancher 2.5, which imports Kubernetes up to 1.20: "
                             "add --kubernetes 1.20")
        if docker_nodes and (docker_nodes > nodes - control_planes or kubernetes == "1.20"):
            raise SystemExit("--docker-nodes: at most the number of workers, and not with --kubernetes 1.20 "
                             "(dockershim's pod sandboxes need CAP_SYS_RESOURCE, which lab nodes lack)")
        inotify_problem = inotify_shortfall(nodes, read_sysctl("fs/inotify/max_user_instances"))
        if inotify_problem:
            raise SystemExit(inotify_problem)
        standin = rancher_standin_archive() if rancher else None
        self.ensure_key()
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "known_hosts").unlink(missing_ok=True)
        net = self.ensure_network(namespaced_subnet(subnet))
        addresses = {f"node{i}": str(net.network_address + 10 + i) for i in range(1, nodes + 1)}
        if rancher:  # one more host, outside the cluster, for the Rancher server
            addresses[RANCHER_HOST] = str(net.network_address + 10 + nodes + 1)
        log(f"Starting {nodes} node(s) of lab '{self.name}' on {net} from {image}")
        for node, address in addresses.items():
            self.start_node(node, address, image)
        names = [name for name in addresses if name != RANCHER_HOST]
        docker_runtime = names[len(names) - docker_nodes:] if docker_nodes else []
        unknown = sorted(set(python36 or []) - set(addresses))
        if unknown:
            raise SystemExit(f"--python36 {' '.join(unknown)}: no such node (the nodes are {', '.join(addresses)})")
        interpreters = {}
        for node, address in addresses.items():
            self.wait_booted(node)
            self.provision_user(node)
            if node in docker_runtime:
                self.install_file(node, LAB_RUNC, LAB_RUNC_SCRIPT)
            if node != RANCHER_HOST:
                self.start_dns_relay(node, address)
            self.wait_ssh(node, address)
            if node in (python36 or []):
                interpreters[node] = self.install_python36(node)
        self.write_inventory(addresses, control_planes, str(net.network_address + 1), inventory_file, standin,
                             kubernetes=kubernetes, docker_runtime=docker_runtime, interpreters=interpreters,
                             upgrade_to=upgrade_to)
        return addresses

    def install_file(self, node: str, path: str, text: str, mode: str = "0755") -> None:
        """A file of the lab's own on a node (not something a role installs)."""
        docker("exec", "-i", self.container(node), "sh", "-c",
               f"mkdir -p {shlex.quote(str(Path(path).parent))} && cat > {shlex.quote(path)} && "
               f"chmod {mode} {shlex.quote(path)}", stdin=text)

    def start_dns_relay(self, node: str, address: str) -> None:
        """Docker's DNS on the node, reachable from its pods: see LAB_DNS_RELAY."""
        self.install_file(node, LAB_DNS_RELAY, LAB_DNS_RELAY_SCRIPT)
        self.install_file(node, LAB_DNS_RESOLV_CONF, f"# Written by tools/lab: kubelet's resolvConf.\nnameserver {address}\n",
                          mode="0644")
        self.install_file(node, "/etc/systemd/system/corral-lab-dns-relay.service",
                          LAB_DNS_RELAY_UNIT.format(relay=LAB_DNS_RELAY, address=address), mode="0644")
        docker("exec", self.container(node), "systemctl", "enable", "--now", "corral-lab-dns-relay.service")

    def inventory_path(self) -> Path:
        return self.dir / "inventory"

    def write_inventory(self, addresses: dict[str, str], control_planes: int, gateway: str,
                        path: Path | None, standin: Path | None = None, kubernetes: str = KUBERNETES_SETS[0],
                        docker_runtime: list[str] | tuple = (), interpreters: dict[str, str] | None = None,
                        upgrade_to: str | None = None) -> Path:
        """An inventory in the collection's group model, as a user would write one. With upgrade_to, it
        deploys the set `kubernetes` and holds the settings of the set an upgrade goes to in
        corral_lab_upgrade_to (a lab-only variable for the tests: extra variables of upgrade.yml), the sums
        of both sets in artifacts_checksums."""
        names = [name for name in addresses if name != RANCHER_HOST]
        control = names[:control_planes]
        workers = names[control_planes:] or control

        interpreters = interpreters or {}

        def host(group: list[str]) -> dict:
            # A node given --python36 is driven like an EL host: Ansible runs its modules with Python 3.6.
            return {n: {"ansible_host": addresses[n], **(DOCKER_RUNTIME_SETTINGS if n in docker_runtime else {}),
                        **({"ansible_python_interpreter": interpreters[n]} if n in interpreters else {})}
                    for n in group}

        inventory = {"all": {
            "vars": {
                "ansible_user": USER,
                "ansible_ssh_private_key_file": str(self.key),
                "ansible_ssh_common_args": " ".join(self.ssh_args()[2:]),
                # The lab's clock source is its own gateway (this machine): lab nodes must
                # never send traffic anywhere else.
                "prepare_ntp_servers": [gateway],
                # The lab's PKI and etcd snapshots go when the lab goes.
                # Also the cluster's name in Rancher, which takes only [a-z0-9-].
                "cluster_name": f"lab-{self.name}".replace("_", "-"),
                "cluster_state_dir": str(self.dir / "state"),
                **NESTED_NODE_SETTINGS,
                **LAB_KUBELET_SETTINGS,
                **upgrade_settings(kubernetes, upgrade_to),
            },
            "children": {
                "etcd": {"hosts": host(control)},
                "k8s_cluster": {"children": {
                    "kube_control_plane": {"hosts": host(control)},
                    "kube_node": {"hosts": host(workers)},
                }},
                "rancher_server": {"hosts": {}},
            },
        }}
        if standin is not None:
            settings = inventory["all"]["vars"]
            settings["node_image_archives"] = [*settings.get("node_image_archives", []),
                                               {"src": str(standin), "image": RANCHER_STANDIN_CLUSTER_AGENT}]
            inventory["all"]["children"]["rancher_server"]["hosts"] = {RANCHER_HOST: {
                "ansible_host": addresses[RANCHER_HOST], **self.rancher_settings(standin)}}
        if path is None:
            path = self.inventory_path() / "hosts.yml"
            settings = path.parent / "group_vars" / "all.yml"
            settings.parent.mkdir(parents=True, exist_ok=True)
            if not settings.exists():
                settings.write_text("---\n# Your own settings for this lab, kept across `up`, e.g.\n"
                                    "# cluster_network_plugin: bridge\n{}\n")
        path.parent.mkdir(parents=True, exist_ok=True)
        # JSON is valid YAML and keeps this tool free of a YAML dependency. Private: it may hold
        # the Rancher passwords.
        write_private(path, "# Written by tools/lab on every `up`.\n" + json.dumps(inventory, indent=2) + "\n")
        return path

    def rancher_settings(self, standin: Path) -> dict:
        """The Rancher host's settings: the contract stand-in of Rancher 2.5, with passwords made once per lab."""
        passwords = self.dir / "rancher-passwords.json"
        if not passwords.exists():
            passwords.parent.mkdir(parents=True, exist_ok=True)
            write_private(passwords, json.dumps({"rancher_server_bootstrap_password": secrets.token_urlsafe(18),
                                                 "rancher_server_admin_password": secrets.token_urlsafe(18)}))
        return {
            **json.loads(passwords.read_text()),
            # NOT Rancher: tests/contract's stand-in of its API (no Rancher image can be pulled here).
            "rancher_server_image": RANCHER_STANDIN_SERVER.split(":", maxsplit=1)[0],
            "rancher_server_tag": RANCHER_STANDIN_SERVER.split(":")[1],
            # Docker inside a node cannot start --privileged containers (no CAP_SYS_RESOURCE).
            "rancher_server_privileged": False,
            # The stand-in's self-signed certificate names the address the API calls use (Rancher's own
            # certificate names the addresses it is reached at): the role verifies it against the CA it pins.
            "rancher_server_env": {"STANDIN_TLS_SANS": "{{ cluster_node_ip }}"},
            "docker_install_method": "distro",  # Debian's docker.io: no Docker repository is reachable
            "docker_image_archives": [{"src": str(standin), "image": RANCHER_STANDIN_SERVER}],
        }

    def down(self) -> None:
        names = self.containers()
        if names:
            log(f"Removing {len(names)} container(s) of lab '{self.name}' and their volumes")
            docker("rm", "-f", "-v", *names)
        if docker("network", "ls", "-q", "--filter", f"name=^{self.network}$"):
            docker("network", "rm", self.network)
        shutil.rmtree(self.dir, ignore_errors=True)


# What Kubernetes nodes need when they are unprivileged containers (see ../shared/LAB.md).
NESTED_NODE_SETTINGS = {
    # No CAP_SYS_RESOURCE: pods may not lower their OOM score below containerd's.
    "node_containerd_restrict_oom_score_adj": True,
    # /proc/sys/net/netfilter/nf_conntrack_max is the VM's and read-only here.
    "node_kube_proxy_conntrack_max_per_core": 0,
    # /proc/swaps is the VM's: the nodes cannot turn its swap off.
    "node_kubelet_fail_swap_on": False,
    # With the systemd driver kubelet cannot create its kubepods slice inside a node container
    # (cgroup v1, host cgroup namespace): "root container [kubepods] doesn't exist".
    "cluster_cgroup_driver": "cgroupfs",
    # The machine running the lab boots with cgroup v1 (its kernel's choice, not the nodes'):
    # kubelet refuses cgroup v1 from 1.35 on unless told otherwise.
    "node_kubelet_fail_cgroup_v1": False,
    # vm.*, kernel.panic* and kernel.keys.* are not namespaced: they belong to the machine running
    # the lab, which no lab node may change. So prepare leaves them alone, and kubelet cannot
    # require them (protectKernelDefaults would refuse to start on a machine whose values differ).
    "prepare_sysctl_kubelet": {},
    "node_kubelet_protect_kernel_defaults": False,
    # The machine's filesystem, which the nodes share, reports a size far above what is free for
    # it (e.g. 252 GB with 41 GB available): kubelet's percentages read it as nearly full, so its
    # image GC would delete the images imported from archives (each converge would import them
    # again) and its eviction would evict pods. Absolute thresholds instead.
    "node_kubelet_extra_config": {
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "2Gi", "imagefs.available": "2Gi",
                         "nodefs.inodesFree": "5%"},
    },
}

# --docker-nodes: the last workers run Docker Engine (the static tarball of the set: Docker 26
# from Debian trixie's docker.io for 1.36) as kubelet's runtime, through cri-dockerd. cri-dockerd asks for oom_score_adj -998 for every pod sandbox, which
# runc may only set with CAP_SYS_RESOURCE; Docker has no restrict_oom_score_adj as containerd
# has, so its runtime on these nodes is runc behind LAB_RUNC, which does the same: it raises a
# requested oomScoreAdj below runc's own to runc's own, then runs the real runc.
LAB_RUNC = "/usr/local/libexec/corral-lab/runc"
LAB_RUNC_SCRIPT = """\
#!/usr/bin/python3
# Written by tools/lab on nodes that run Docker: runc with containerd's restrict_oom_score_adj.
import json, os, sys

# Docker's static binaries (docker_install_method static), else the distribution's runc.
RUNC = next(path for path in ("/usr/local/bin/runc", "/usr/sbin/runc") if os.path.exists(path))
VALUED = {"--root", "--log", "--log-format", "--criu", "--rootless"}


def spec_file(argv):
    command, i = None, 1
    while i < len(argv):
        arg = argv[i]
        if command is None and arg in VALUED:
            i += 2
            continue
        if command is None and not arg.startswith("-"):
            command = arg
        elif command in ("create", "run") and arg in ("--bundle", "-b") and i + 1 < len(argv):
            return os.path.join(argv[i + 1], "config.json")
        elif command in ("create", "run") and arg.startswith("--bundle="):
            return os.path.join(arg.split("=", 1)[1], "config.json")
        elif command == "exec" and arg in ("--process", "-p") and i + 1 < len(argv):
            return argv[i + 1]
        i += 1
    return "config.json" if command in ("create", "run") else None


path = spec_file(sys.argv)
if path and os.path.exists(path):
    with open(path) as handle:
        spec = json.load(handle)
    process = spec.get("process", spec)
    with open("/proc/self/oom_score_adj") as handle:
        own = int(handle.read())
    if process.get("oomScoreAdj") is not None and process["oomScoreAdj"] < own:
        process["oomScoreAdj"] = own
        with open(path, "w") as handle:
            json.dump(spec, handle)
os.execv(RUNC, [RUNC] + sys.argv[1:])
"""
# Lab nodes resolve each other's names (and the Debian mirror's) through Docker's DNS at 127.0.0.11,
# which answers only inside the node's own network namespace, not from its pods. Each node relays
# DNS over UDP from its address to it, and kubelet's resolvConf names that relay, so that CoreDNS
# (dnsPolicy Default, forward . /etc/resolv.conf) forwards names outside the cluster to Docker's DNS
# as a real node's resolvers would. Traffic stays on this machine.
LAB_DNS_RELAY = "/usr/local/libexec/corral-lab/dns-relay"
LAB_DNS_RESOLV_CONF = "/etc/corral-lab/resolv.conf"
LAB_DNS_RELAY_SCRIPT = """\
#!/usr/bin/python3
# Written by tools/lab: DNS over UDP from this node's address to Docker's DNS (127.0.0.11).
import socket, sys, threading

UPSTREAM = ("127.0.0.11", 53)
listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
listener.bind((sys.argv[1], 53))


def relay(query, client):
    upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    upstream.settimeout(5)
    try:
        upstream.sendto(query, UPSTREAM)
        listener.sendto(upstream.recv(65535), client)
    except OSError:
        pass
    finally:
        upstream.close()


while True:
    query, client = listener.recvfrom(65535)
    threading.Thread(target=relay, args=(query, client), daemon=True).start()
"""
LAB_DNS_RELAY_UNIT = """\
# Written by tools/lab.
[Unit]
Description=DNS relay from this lab node's address to Docker's DNS

[Service]
ExecStart={relay} {address}
Restart=always

[Install]
WantedBy=multi-user.target
"""
# The nested nodes' kubelet settings above (image GC, eviction), and resolvConf.
LAB_KUBELET_SETTINGS = {"node_kubelet_extra_config": {
    **NESTED_NODE_SETTINGS["node_kubelet_extra_config"], "resolvConf": LAB_DNS_RESOLV_CONF}}

DOCKER_RUNTIME_SETTINGS = {
    "cluster_container_runtime": "docker",
    # The set's static tarball: no Docker repository is reachable, and bookworm's docker.io (20.10)
    # is older than cri-dockerd 0.4 accepts (API 1.42).
    "docker_install_method": "static",
    "docker_daemon_options": {"runtimes": {"corral-lab-runc": {"path": LAB_RUNC}},
                              "default-runtime": "corral-lab-runc"},
}


# With --rancher: one more host, in rancher_server only, runs the contract stand-in of Rancher
# 2.5 (tests/contract), which imports the lab's Kubernetes release; the cluster's nodes get the
# stand-in of the cluster agent that the import manifest runs.
RANCHER_HOST = "rancher"
RANCHER_STANDIN_SERVER = "corral.test/rancher-standin:v2.5.16"
RANCHER_STANDIN_CLUSTER_AGENT = "corral.test/rancher-cluster-agent-standin:v2.5.16"


def rancher_standin_archive() -> Path:
    """The docker archive of the stand-in images (built once, cached by its recipe)."""
    out = run(sys.executable, str(ROOT / "tests" / "contract" / "build_images.py"), capture=True)
    return Path(out.strip().splitlines()[-1])


def catalog_names() -> set[str]:
    """The artifact names of the collection's catalog (roles/artifacts)."""
    import yaml  # noqa: PLC0415  (ansible's dependency, in the venv tools/lab runs from)

    catalog = ROOT / "roles" / "artifacts" / "vars" / "main" / "catalog.yml"
    return set(yaml.safe_load(catalog.read_text())["__artifacts_catalog"])


# inotify instances a lab node's systemd, containerd and kubelet hold (measured: 15 on a worker, 28
# on a control plane); the machine's fs.inotify.max_user_instances bounds them for every container
# at once (root on the machine is root in every node): not namespaced, so a lab-only setting of the
# machine (docs/lab.md), never changed from a node.
INOTIFY_PER_NODE = 16
INOTIFY_BASE = 32


def read_sysctl(name: str) -> int | None:
    try:
        return int(Path("/proc/sys", name).read_text())
    except (OSError, ValueError):
        return None


def inotify_shortfall(nodes: int, limit: int | None) -> str:
    """Why `nodes` lab nodes would not all start their kubelet ("" when they would)."""
    needed = INOTIFY_BASE + INOTIFY_PER_NODE * nodes
    if limit is None or limit >= needed:
        return ""
    return (f"{nodes} lab nodes need about {needed} inotify instances and this machine allows {limit} "
            f"(fs.inotify.max_user_instances): kubelets past the limit fail with 'inotify_init: too many open "
            f"files' and never register. The limit is the machine's, shared by every container: raise it on "
            f"this machine (sysctl -w fs.inotify.max_user_instances={max(1024, needed)}), or start fewer nodes.")


def upgrade_settings(kubernetes: str, upgrade_to: str | None) -> dict:
    """artifact_settings of the set deployed, and with upgrade_to those of the set an upgrade goes to
    under corral_lab_upgrade_to, the sums of both in artifacts_checksums of each."""
    settings = artifact_settings(kubernetes)
    if not upgrade_to:
        return settings
    target = artifact_settings(upgrade_to)
    checksums = {name: {**settings.get("artifacts_checksums", {}).get(name, {}), **sums}
                 for name, sums in target.get("artifacts_checksums", {}).items()}
    checksums = {**settings.get("artifacts_checksums", {}), **checksums}
    return {**settings, "artifacts_checksums": checksums,
            "corral_lab_upgrade_to": {**target, "artifacts_checksums": checksums}}


def artifact_settings(kubernetes: str) -> dict:
    """Deploy a set that `tools/lab artifacts` built, from its offline mirror, with its sums."""
    manifest_file = MIRROR / "artifacts.json"
    manifest = json.loads(manifest_file.read_text()).get("sets", {}).get(kubernetes) if manifest_file.exists() else None
    if not manifest:
        return {}
    # The set may hold artifacts of other checkouts sharing the cache: only the catalog's.
    catalog = catalog_names()
    downloads = {name: entry for name, entry in manifest.items() if "image" not in entry and name in catalog}
    versions = {f"artifacts_{name}_version": manifest[name]["version"]
                for name in ("etcd", "cni_plugins", "containerd", "runc", "docker_static", "crictl", "cri_dockerd",
                             "flanneld", "flannel_cni_plugin")
                if name in manifest}
    return {
        "cluster_kubernetes_version": manifest["kube-apiserver"]["version"],
        **versions,
        "artifacts_mirror_url": MIRROR.as_uri(),
        "artifacts_offline": True,
        "artifacts_checksums": {name: {entry["version"]: f"sha256:{entry['sha256']}"}
                                for name, entry in downloads.items()},
        # No registry is reachable: the sandbox and test images are imported from archives, under
        # the names a mirror of the lab's registry would give them.
        "cluster_image_registry": LAB_REGISTRY,
        "node_sandbox_image": manifest["pause_image"]["image"],
        "node_image_archives": [{"src": str(MIRROR / manifest[key]["path"]), "image": manifest[key]["image"]}
                                for key in ("pause_image", "busybox_image", "coredns_image") if key in manifest],
    }


# ---------------------------------------------------------------- commands

def cmd_image(args: argparse.Namespace) -> None:
    image = args.image or default_image()
    if args.rebuild and image_exists(image):
        docker("rmi", image)
    build_image(image)
    print(image)


def cmd_up(args: argparse.Namespace) -> Lab:
    image = args.image or default_image()
    if not args.image:
        build_image(image)
    if args.artifacts:
        import lab_artifacts  # noqa: PLC0415  (slow to build the first time: only when asked)

        lab_artifacts.build(tuple(name for name in KUBERNETES_SETS if name in (args.kubernetes, args.upgrade_to)))
    lab = Lab(args.name)
    started = time.monotonic()
    addresses = lab.up(args.nodes, args.control_planes, args.subnet, image, args.inventory_file, args.rancher,
                       kubernetes=args.kubernetes, docker_nodes=args.docker_nodes, python36=args.python36,
                       upgrade_to=args.upgrade_to)
    log(f"Lab '{lab.name}' is up in {time.monotonic() - started:.0f} s: "
        + ", ".join(f"{n}={a}" for n, a in addresses.items()))
    print(lab.inventory_path())
    return lab


def cmd_deploy(args: argparse.Namespace) -> None:
    args.artifacts = True
    lab = cmd_up(args)
    playbook = ROOT / "playbooks" / "site.yml"
    log(f"Deploying: ansible-playbook -i {lab.inventory_path()} {playbook}")
    started = time.monotonic()
    rc = subprocess.run(["ansible-playbook", "-i", str(lab.inventory_path()), str(playbook),
                         *args.ansible_args], cwd=ROOT, check=False).returncode
    log(f"site.yml finished with rc={rc} in {time.monotonic() - started:.0f} s")
    raise SystemExit(rc)


def cmd_artifacts(args: argparse.Namespace) -> None:
    import lab_artifacts  # noqa: PLC0415  (only this command needs the build code)

    print(lab_artifacts.build(tuple(args.set or KUBERNETES_SETS), force=args.rebuild))


def cmd_kube_bench(_args: argparse.Namespace) -> None:
    import lab_artifacts  # noqa: PLC0415  (only this command needs the build code)

    print(lab_artifacts.kube_bench())


def cmd_down(args: argparse.Namespace) -> None:
    Lab(args.name).down()


def cmd_status(args: argparse.Namespace) -> None:
    print(docker("ps", "-a", "--filter", f"label={LABEL}" + (f"={args.name}" if args.name else ""),
                 "--format", "table {{.Names}}\t{{.Status}}\t{{.Label \"" + LABEL + "\"}}"))


def cmd_ssh(args: argparse.Namespace) -> None:
    lab = Lab(args.name)
    address = docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                     lab.container(args.node))
    os.execvp("ssh", ["ssh", *lab.ssh_args()[:-2], f"{USER}@{address}", *args.command])


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tools/lab", description=__doc__.split("\n\n", maxsplit=1)[0])
    sub = p.add_subparsers(dest="command", required=True)

    def lab_options(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--name", default="corral", help="lab name (default: corral)")

    def up_options(sp: argparse.ArgumentParser) -> None:
        lab_options(sp)
        sp.add_argument("--nodes", type=int, default=3, help="number of nodes (default: 3)")
        sp.add_argument("--control-planes", type=int, default=1,
                        help="how many of them are control plane + etcd (default: 1)")
        sp.add_argument("--subnet", default="192.168.56.0/24",
                        help="lab network; node N gets address .10+N (default: 192.168.56.0/24)")
        sp.add_argument("--image", help="node image to use instead of the built Debian one "
                        "(needs systemd, sshd, sudo, python3)")
        sp.add_argument("--kubernetes", choices=KUBERNETES_SETS, default=KUBERNETES_SETS[0],
                        help="the artifact set the inventory deploys: 1.36 (current: Kubernetes 1.36, containerd 2, "
                        "etcd 3.6, from their Go modules), 1.35 (the previous minor release, with the rest of 1.36: "
                        "what an upgrade starts from) or 1.20 (the seeds' era, from Debian's packages); "
                        f"default {KUBERNETES_SETS[0]}")
        sp.add_argument("--upgrade-to", choices=KUBERNETES_SETS,
                        help="also the settings of this set under corral_lab_upgrade_to (the extra variables of "
                        "an upgrade.yml run to it), the sums of both sets in the inventory")
        sp.add_argument("--docker-nodes", type=int, default=0,
                        help="how many of the workers (the last ones) run Docker Engine through cri-dockerd "
                        "instead of containerd (default: 0)")
        sp.add_argument("--artifacts", action=argparse.BooleanOptionalAction, default=False,
                        help="build the artifact set first (cached; the first build of a set takes minutes)")
        sp.add_argument("--rancher", action="store_true",
                        help="one more host, 'rancher', running the contract stand-in of Rancher 2.5's API "
                        "(NOT Rancher: no Rancher image can be had here), into which site.yml imports the cluster")
        sp.add_argument("--python36", action="append", default=[], metavar="NODE",
                        help="run Ansible's modules on NODE with Python 3.6, as on CentOS 7 and EL 8 (this machine's "
                        "/root/.pyenv/versions/3.6.* is copied into it); drive such a lab with ansible-core 2.16")
        sp.add_argument("--inventory-file", type=Path,
                        help="write the inventory here (default: .lab/NAME/inventory/hosts.yml)")

    sp = sub.add_parser("image", help="build the node image (cached)")
    sp.add_argument("--image", help="tag to build")
    sp.add_argument("--rebuild", action="store_true")
    sp.set_defaults(func=cmd_image)
    sp = sub.add_parser("up", help="start the nodes and write the inventory (prints its path)")
    up_options(sp)
    sp.set_defaults(func=cmd_up)
    sp = sub.add_parser("deploy", help="up, then run playbooks/site.yml on the lab")
    up_options(sp)
    sp.add_argument("ansible_args", nargs="*", help="extra ansible-playbook arguments (after --)")
    sp.set_defaults(func=cmd_deploy)
    sp = sub.add_parser("artifacts", help="build the cluster artifact sets (Go modules, Debian's packages) "
                        "into the lab's offline mirror (cached; prints its path)")
    sp.add_argument("--set", action="append", choices=KUBERNETES_SETS,
                    help="only this set (repeatable; default: every set)")
    sp.add_argument("--rebuild", action="store_true", help="publish again even when complete")
    sp.set_defaults(func=cmd_artifacts)
    sp = sub.add_parser("kube-bench", help="build kube-bench, a lab test tool (CIS benchmark checks), from its Go "
                        "module (cached); prints the directory holding kube-bench and its cfg/")
    sp.set_defaults(func=cmd_kube_bench)
    sp = sub.add_parser("down", help="remove the lab's containers, volumes, network and files")
    lab_options(sp)
    sp.set_defaults(func=cmd_down)
    sp = sub.add_parser("status", help="list lab containers")
    sp.add_argument("--name", help="only this lab")
    sp.set_defaults(func=cmd_status)
    sp = sub.add_parser("ssh", help="log in to a node as the lab user")
    lab_options(sp)
    sp.add_argument("node")
    sp.add_argument("command", nargs="*")
    sp.set_defaults(func=cmd_ssh)
    return p


def main() -> None:
    args = parser().parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
