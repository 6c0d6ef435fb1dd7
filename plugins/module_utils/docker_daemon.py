# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic of the docker role, kept here so that it is unit-tested in one place.

- which daemon.json keys a Docker version accepts (1.12 refuses keys it does not know, and
  ``graph`` became ``data-root`` in 17.05);
- the daemon.json the role writes, from the role's settings;
- which dockerd command-line flags set the same thing as a daemon.json key (dockerd refuses to
  start when a setting comes from both);
- the packages of each install method, per OS family, EL version and Docker version;
- the checks of the role's preflight, each message naming the variable and the fix.

Used by the filter plugin corral.cluster.docker (plugins/filter/docker.py).
"""

import re
from typing import List, Optional, Tuple

from ansible_collections.corral.cluster.plugins.module_utils.kubernetes import CGROUP_DRIVERS
from ansible_collections.corral.cluster.plugins.module_utils.version import version_tuple

INSTALL_METHODS = ("ce", "legacy", "distro", "static")

# --- versions ------------------------------------------------------------------------------

# Read from "Docker version 20.10.24+dfsg1, build 297e128", "Docker version 1.12.6, build
# 78d1802", "Docker version 17.03.2-ce, ...", "1.13.1", "24.0.7", "5:24.0.7-1~debian.12~bookworm".

# Assumed for "latest" (an unpinned ce install): a current Docker.
LATEST = (99, 0, 0)


def parse_version(text) -> tuple:
    """(major, minor, patch) of a Docker version string; LATEST for "" or "latest"."""
    if isinstance(text, tuple):
        return (tuple(text) + (0, 0, 0))[:3]
    text = str(text or "").strip()
    if text in ("", "latest"):
        return LATEST
    parsed = version_tuple(text, anywhere=True)
    if parsed is None:
        raise ValueError(f"not a Docker version: {text!r}")
    return parsed


def version_string(version) -> str:
    if not isinstance(version, tuple):
        version = parse_version(version)
    return "%d.%d.%d" % version


def data_root_key(version) -> str:
    """``graph`` before Docker 17.05, ``data-root`` from 17.05 on."""
    return "graph" if parse_version(version) < (17, 5, 0) else "data-root"


def supports_validate(version) -> bool:
    """``dockerd --validate --config-file FILE`` exists from Docker 23.0 on."""
    return parse_version(version) >= (23, 0, 0)


# --- daemon.json keys ----------------------------------------------------------------------

# Every key the daemon.json of Docker 1.12 accepts (docs.docker.com, "daemon configuration
# file", 1.12). dockerd 1.12 refuses to start on any other key.
KEYS_1_12 = frozenset({
    "api-cors-header", "authorization-plugins", "bip", "bridge", "cgroup-parent",
    "cluster-advertise", "cluster-store", "cluster-store-opts", "debug", "default-gateway",
    "default-gateway-v6", "default-runtime", "default-ulimits", "disable-legacy-registry", "dns",
    "dns-opts", "dns-search", "exec-opts", "exec-root", "fixed-cidr", "fixed-cidr-v6", "graph",
    "group", "hosts", "icc", "insecure-registries", "ip", "ip-forward", "ip-masq", "ipv6",
    "iptables", "labels", "live-restore", "log-driver", "log-level", "log-opts",
    "max-concurrent-downloads", "max-concurrent-uploads", "mtu", "oom-score-adjust", "pidfile",
    "raw-logs", "registry-mirrors", "runtimes", "selinux-enabled", "storage-driver",
    "storage-opts", "tls", "tlscacert", "tlscert", "tlskey", "tlsverify", "userland-proxy",
    "userns-remap",
})

# Keys added after 1.12: the first release whose daemon.json accepts them. A key known to
# neither table is passed through for versions after 1.12 (a newer Docker may know it).
KEY_SINCE = {
    "experimental": (1, 13, 0),
    "init": (1, 13, 0),
    "init-path": (1, 13, 0),
    "seccomp-profile": (1, 13, 0),
    "shutdown-timeout": (17, 5, 0),
    "data-root": (17, 5, 0),
    "metrics-addr": (17, 3, 0),
    "userland-proxy-path": (1, 13, 0),
    "no-new-privileges": (17, 5, 0),
    "default-shm-size": (17, 6, 0),
    "node-generic-resources": (17, 9, 0),
    "allow-nondistributable-artifacts": (17, 6, 0),
    "default-address-pools": (18, 6, 0),
    "features": (18, 9, 0),
    "max-download-attempts": (19, 3, 0),
    "default-cgroupns-mode": (20, 10, 0),
    "default-ipc-mode": (18, 9, 0),
    "containerd": (17, 6, 0),
    "containerd-namespace": (20, 10, 0),
    "builder": (18, 9, 0),
}

# Keys that Docker removed: refused from this release on.
KEY_UNTIL = {
    "graph": (23, 0, 0),
    "disable-legacy-registry": (17, 12, 0),
}


def key_supported(key: str, version) -> Tuple[bool, str]:
    """Whether dockerd of this version accepts the daemon.json key, and why not."""
    version = parse_version(version)
    if key in KEY_UNTIL and version >= KEY_UNTIL[key]:
        return False, f"removed in Docker {version_string(KEY_UNTIL[key])}"
    if version < (1, 13, 0):
        if key in KEYS_1_12:
            return True, ""
        return False, f"unknown to Docker {version_string(version)} (dockerd refuses unknown keys)"
    if key in KEY_SINCE and version < KEY_SINCE[key]:
        return False, f"needs Docker {version_string(KEY_SINCE[key])} or later"
    return True, ""


# --- dockerd flags -------------------------------------------------------------------------

# dockerd flag (long name, without dashes) -> the daemon.json key of the same setting, where
# the names differ. Every other long flag has the key of its own name.
FLAG_KEYS = {
    "host": "hosts",
    "exec-opt": "exec-opts",
    "storage-opt": "storage-opts",
    "log-opt": "log-opts",
    "registry-mirror": "registry-mirrors",
    "insecure-registry": "insecure-registries",
    "dns-opt": "dns-opts",
    "label": "labels",
    "add-runtime": "runtimes",
    "authorization-plugin": "authorization-plugins",
    "default-ulimit": "default-ulimits",
    "cluster-store-opt": "cluster-store-opts",
    "node-generic-resource": "node-generic-resources",
    "default-address-pool": "default-address-pools",
    "allow-nondistributable-artifacts": "allow-nondistributable-artifacts",
    "feature": "features",
}

SHORT_FLAGS = {
    "H": "host",
    "g": "graph",
    "G": "group",
    "D": "debug",
    "l": "log-level",
    "s": "storage-driver",
    "b": "bridge",
    "p": "pidfile",
}

# Keys that name the same setting: giving one as a flag and the other in daemon.json is the
# same conflict as giving one twice.
SAME_SETTING = {"graph": "data-root", "data-root": "graph"}


def flag_key(flag: str) -> Optional[str]:
    """daemon.json key of a dockerd argument ("--exec-opt=x", "-H", "fd://" -> None)."""
    if not flag.startswith("-"):
        return None
    if flag.startswith("--"):
        name = flag[2:].split("=", 1)[0]
    else:
        name = SHORT_FLAGS.get(flag[1:2], flag[1:])
    return FLAG_KEYS.get(name, name)


def flag_keys(flags) -> List[str]:
    keys = []
    for flag in flags or []:
        for part in str(flag).split():
            key = flag_key(part)
            if key and key not in keys:
                keys.append(key)
    return keys


def conflicts(flags, config: dict) -> List[str]:
    """daemon.json keys that the flags set too (sorted)."""
    found = set()
    for key in flag_keys(flags):
        if key in config:
            found.add(key)
        elif SAME_SETTING.get(key) in config:
            found.add(SAME_SETTING[key])
    return sorted(found)


# dockerd of CentOS 7's docker package (1.13.1) needs these: its unit passes them, and the
# role's drop-in replaces that unit's command line.
EL7_DISTRO_FLAGS = [
    "--add-runtime docker-runc=/usr/libexec/docker/docker-runc-current",
    "--default-runtime=docker-runc",
    "--userland-proxy-path=/usr/libexec/docker/docker-proxy-current",
    "--init-path=/usr/libexec/docker/docker-init-current",
    "--seccomp-profile=/etc/docker/seccomp.json",
]
SOCKET_FLAGS = ["-H fd://", "--containerd=/run/containerd/containerd.sock"]


def builtin_flags(method: str, os_family: str, version) -> List[str]:
    """The flags the package's own unit passes to dockerd, which the role keeps.

    Packages from Docker 18.09 on (docker-ce, Debian's docker.io) start dockerd from docker.socket
    with the separate containerd; docker-engine 1.12 and docker-ce before 18.09 start plain dockerd;
    the static method's unit starts dockerd, which runs its own containerd.
    """
    if method == "static" or method == "legacy":
        return []
    if method == "distro" and os_family == "RedHat":
        return list(EL7_DISTRO_FLAGS)
    if parse_version(version) < (18, 9, 0):
        return []
    return list(SOCKET_FLAGS)


def dockerd_flags(builtin_flags, extra_flags, config: dict) -> List[str]:
    """The flags the role puts on dockerd's command line.

    The role's own flags (builtin_flags, e.g. "-H fd://" of a package's socket unit) give way to
    a daemon.json key of the same setting; the user's extra flags are kept as given (the
    preflight refuses extra flags that conflict with daemon.json).
    """
    result = []
    for flag in builtin_flags or []:
        if not conflicts([flag], config):
            result.append(str(flag))
    result.extend(str(flag) for flag in extra_flags or [])
    return result


# --- daemon.json ---------------------------------------------------------------------------


def _data_root(settings: dict) -> str:
    options = settings.get("daemon_options") or {}
    root = settings.get("data_root") or options.get("data-root") or options.get("graph") or ""
    return str(root).rstrip("/") or ("/" if root else "")


def daemon_config(settings: dict, version) -> dict:
    """The daemon.json for a Docker version, and the keys left out of it.

    settings: registry_mirrors, insecure_registries, cgroup_driver, log_driver, log_opts,
    storage_driver, storage_opts, live_restore, bip, default_address_pools, data_root,
    daemon_options (raw keys, merged last).

    Returns {"config": dict, "dropped": [{"key", "reason"}], "data_root": str,
    "data_root_key": "graph"|"data-root"}.
    """
    config: dict = {}
    if settings.get("registry_mirrors"):
        config["registry-mirrors"] = [str(m) for m in settings["registry_mirrors"]]
    if settings.get("insecure_registries"):
        config["insecure-registries"] = [str(r) for r in settings["insecure_registries"]]
    if settings.get("cgroup_driver"):
        config["exec-opts"] = [f"native.cgroupdriver={settings['cgroup_driver']}"]
    if settings.get("log_driver"):
        config["log-driver"] = str(settings["log_driver"])
    if settings.get("log_opts"):
        config["log-opts"] = {str(k): str(v) for k, v in settings["log_opts"].items()}
    if settings.get("storage_driver"):
        config["storage-driver"] = str(settings["storage_driver"])
    if settings.get("storage_opts"):
        config["storage-opts"] = [str(o) for o in settings["storage_opts"]]
    if settings.get("live_restore") is not None:
        config["live-restore"] = bool(settings["live_restore"])
    if settings.get("bip"):
        config["bip"] = str(settings["bip"])
    if settings.get("default_address_pools"):
        config["default-address-pools"] = [
            {"base": str(p["base"]), "size": int(p["size"])} for p in settings["default_address_pools"]
        ]
    options = dict(settings.get("daemon_options") or {})
    options.pop("graph", None)
    options.pop("data-root", None)
    config.update(options)

    root_key = data_root_key(version)
    root = _data_root(settings)
    if root:
        config[root_key] = root

    dropped = []
    for key in sorted(config):
        supported, reason = key_supported(key, version)
        if not supported:
            dropped.append({"key": key, "reason": reason})
            del config[key]
    return {"config": config, "dropped": dropped, "data_root": root, "data_root_key": root_key}


# --- packages ------------------------------------------------------------------------------


def packages(method: str, os_family: str, major, version="", legacy_location="",
             legacy_release="1.el7.centos", arch="x86_64") -> List[str]:
    """Package names (or rpm locations) the install method installs.

    version: "" for the newest, else "X.Y.Z" (pinned).
    """
    major = int(major or 0)
    version = str(version or "")
    if method == "static":
        return []
    if method == "distro":
        return ["docker.io"] if os_family == "Debian" else ["docker"]
    if method == "legacy":
        location = str(legacy_location).rstrip("/")
        return [
            f"{location}/docker-engine-selinux-{version}-{legacy_release}.noarch.rpm",
            f"{location}/docker-engine-{version}-{legacy_release}.{arch}.rpm",
        ]
    if method != "ce":
        raise ValueError(f"unknown install method {method!r}")
    parsed = parse_version(version)
    # docker-ce-cli and containerd.io were split out of docker-ce in 18.09.
    split = parsed >= (18, 9, 0)
    if os_family == "Debian":
        pin = f"=5:{version}*" if version else ""
        if not split:
            return [f"docker-ce={version}*" if version else "docker-ce"]
        return [f"docker-ce{pin}", f"docker-ce-cli{pin}", "containerd.io"]
    pin = f"-{version}" if version else ""
    if not split:
        # 17.x and 18.06 for EL7 need their own selinux package from the same repo.
        return [f"docker-ce{pin}", f"docker-ce-selinux{pin}"] if major == 7 and parsed < (17, 6, 0) \
            else [f"docker-ce{pin}"]
    return [f"docker-ce{pin}", f"docker-ce-cli{pin}", "containerd.io"]


# Packages removed before an install method installs its own, per OS family.
CONFLICTS = {
    "Debian": {
        "ce": ["docker.io", "docker-doc", "docker-compose", "podman-docker", "containerd", "runc",
               "docker-engine"],
        "distro": ["docker-ce", "docker-ce-cli", "containerd.io", "docker-engine", "podman-docker"],
        "static": ["docker.io", "docker-ce", "docker-ce-cli", "containerd.io", "containerd", "runc",
                   "docker-engine", "podman-docker"],
        "legacy": [],
    },
    "RedHat": {
        "ce": ["docker", "docker-client", "docker-client-latest", "docker-common", "docker-latest",
               "docker-latest-logrotate", "docker-logrotate", "docker-selinux", "docker-engine",
               "docker-engine-selinux", "podman-docker", "runc"],
        "legacy": ["docker", "docker-client", "docker-common", "docker-selinux", "docker-ce",
                   "docker-ce-cli", "docker-ce-selinux", "containerd.io", "podman-docker"],
        "distro": ["docker-ce", "docker-ce-cli", "docker-ce-selinux", "containerd.io", "docker-engine",
                   "docker-engine-selinux"],
        "static": ["docker", "docker-client", "docker-common", "docker-selinux", "docker-ce",
                   "docker-ce-cli", "docker-ce-selinux", "containerd.io", "docker-engine",
                   "docker-engine-selinux", "podman-docker", "runc"],
    },
}


def conflicting_packages(method: str, os_family: str, installed) -> List[str]:
    """The installed packages that the install method removes first (sorted)."""
    candidates = CONFLICTS.get(os_family, {}).get(method, [])
    return sorted(set(candidates) & set(installed or []))


# --- preflight -----------------------------------------------------------------------------

_URL_RE = re.compile(r"^https?://[^/\s]+(/\S*)?$")
_REGISTRY_RE = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]+)?$|^[0-9.]+/[0-9]+$|^https?://\S+$")


def problems(settings: dict) -> List[str]:
    """Every bad setting, each message naming the variable and the fix. [] means fine.

    settings: the daemon_config settings plus install_method, version, legacy_location,
    extra_flags, os_family, major, users.
    """
    found = []
    method = settings.get("install_method")
    os_family = settings.get("os_family")
    major = int(settings.get("major") or 0)
    if method not in INSTALL_METHODS:
        found.append(f"docker_install_method is {method!r}: use one of {', '.join(INSTALL_METHODS)}.")
    version = str(settings.get("version") or "")
    try:
        parsed = parse_version(version)
    except ValueError:
        found.append(f"docker_version is {version!r}: give X.Y.Z (e.g. 24.0.7 or 1.12.6), or \"\" for the newest.")
        parsed = LATEST
    if method == "legacy":
        if os_family != "RedHat" or major != 7:
            found.append("docker_install_method: legacy installs docker-engine 1.12 rpms, for EL 7 only: "
                         "use ce, distro or static on this host.")
        if not version or parsed >= (1, 14, 0) or parsed < (1, 10, 0):
            found.append(f"docker_version is {version!r}: docker_install_method: legacy needs the exact "
                         "docker-engine version of the rpms, e.g. 1.12.6.")
        if not settings.get("legacy_location"):
            found.append("docker_legacy_rpm_location is empty: docker_install_method: legacy installs the "
                         "docker-engine rpms from there (yum.dockerproject.org is gone); give the URL or the "
                         "host directory that holds them.")
    if method == "distro" and os_family == "RedHat" and major >= 8:
        found.append("docker_install_method: distro on EL 8 and later would install podman-docker, which is "
                     "not Docker: use ce or static.")
    if method == "ce" and version and parsed < (17, 3, 0):
        found.append(f"docker_version is {version!r}: Docker CE starts at 17.03; for 1.12 use "
                     "docker_install_method: legacy.")
    for name, value in (("docker_ce_repo_url", settings.get("ce_repo_url")),):
        if method == "ce" and not _URL_RE.match(str(value or "")):
            found.append(f"{name} is {value!r}: give the http:// or https:// base URL of a docker-ce "
                         "repository, e.g. https://mirrors.aliyun.com/docker-ce/linux.")
    mirrors = settings.get("registry_mirrors") or []
    if not isinstance(mirrors, list):
        found.append(f"docker_registry_mirrors is {mirrors!r}: give a list of http(s) URLs.")
        mirrors = []
    bad = [m for m in mirrors if not _URL_RE.match(str(m))]
    if bad:
        found.append(f"docker_registry_mirrors has {', '.join(map(str, bad))}: each mirror must be an "
                     "http:// or https:// URL, e.g. https://mirror.example.internal "
                     "(the default comes from cluster_registry_mirrors).")
    insecure = settings.get("insecure_registries") or []
    bad = [r for r in insecure if not _REGISTRY_RE.match(str(r))]
    if bad:
        found.append(f"docker_insecure_registries has {', '.join(map(str, bad))}: give HOST[:PORT] or a "
                     "CIDR, e.g. 192.168.1.10:5000 or 10.0.0.0/8.")
    if settings.get("cgroup_driver") not in CGROUP_DRIVERS:
        found.append(f"docker_cgroup_driver is {settings.get('cgroup_driver')!r}: use systemd or cgroupfs "
                     "(the default comes from cluster_cgroup_driver).")
    options = settings.get("daemon_options") or {}
    if not isinstance(options, dict):
        found.append("docker_daemon_options must be a dict of daemon.json keys.")
        options = {}
    roots = [k for k in ("graph", "data-root") if k in options]
    if len(roots) == 2:
        found.append("docker_daemon_options sets both graph and data-root: they are the same setting "
                     "(graph before Docker 17.05, data-root after) and dockerd refuses both. Remove both "
                     "and set docker_data_root: the role writes the right key for the version.")
    elif roots and settings.get("data_root") and str(options[roots[0]]).rstrip("/") != \
            str(settings["data_root"]).rstrip("/"):
        found.append(f"docker_daemon_options.{roots[0]} and docker_data_root disagree: remove "
                     f"{roots[0]} from docker_daemon_options and keep docker_data_root.")
    root = _data_root(settings)
    if root and (not root.startswith("/") or root == "/"):
        found.append(f"docker_data_root is {root!r}: give an absolute directory, e.g. /appdata/lib/docker.")
    pools = settings.get("default_address_pools") or []
    if any(not isinstance(p, dict) or "base" not in p or "size" not in p for p in pools):
        found.append("docker_default_address_pools: give each pool as {base: 172.30.0.0/16, size: 24}.")
    try:
        config = daemon_config(settings, parsed)["config"]
    except (TypeError, ValueError, KeyError, AttributeError) as err:
        found.append(f"The daemon settings cannot be turned into daemon.json: {err}.")
        config = {}
    clash = conflicts(settings.get("extra_flags") or [], {**config, **({"data-root": root} if root else {})})
    if clash:
        found.append(f"docker_dockerd_extra_flags set {', '.join(clash)}, which daemon.json sets too: dockerd "
                     "refuses to start when a setting comes from both. Remove the flag and set it through "
                     "the role's variables or docker_daemon_options.")
    users = settings.get("users") or []
    if any(not isinstance(u, str) or not re.match(r"^[a-z_][a-z0-9_.-]*\$?$", u) for u in users):
        found.append(f"docker_users is {users!r}: give a list of existing user names.")
    return found
