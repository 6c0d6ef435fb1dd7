"""The docker role's version logic: keys per version, graph vs data-root, flags, packages, checks."""

import pytest

from ansible_collections.corral.cluster.plugins.module_utils import docker_daemon as lib

SETTINGS = {
    "registry_mirrors": ["https://mirror.example.internal"],
    "insecure_registries": ["192.168.1.10:5000"],
    "cgroup_driver": "systemd",
    "log_driver": "json-file",
    "log_opts": {"max-size": "100m", "max-file": 3},
    "storage_driver": "overlay2",
    "storage_opts": [],
    "live_restore": True,
    "bip": "172.17.0.1/16",
    "default_address_pools": [{"base": "172.30.0.0/16", "size": 24}],
    "data_root": "/appdata/lib/docker",
    "daemon_options": {},
}


def good(**changes):
    settings = {**SETTINGS, "install_method": "ce", "version": "", "ce_repo_url": "https://download.docker.com/linux",
                "legacy_location": "", "extra_flags": [], "users": [], "os_family": "RedHat", "major": "7"}
    settings.update(changes)
    return settings


# --- versions ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("Docker version 20.10.24+dfsg1, build 297e128", (20, 10, 24)),
    ("Docker version 1.12.6, build 78d1802", (1, 12, 6)),
    ("Docker version 1.13.1, build 7d71120/1.13.1", (1, 13, 1)),
    ("Docker version 17.03.2-ce, build f5ec1e2", (17, 3, 2)),
    ("5:24.0.7-1~debian.12~bookworm", (24, 0, 7)),
    ("24.0", (24, 0, 0)),
    ("", lib.LATEST),
    ("latest", lib.LATEST),
    ((1, 12, 6), (1, 12, 6)),
])
def test_parse_version(text, expected):
    assert lib.parse_version(text) == expected


def test_parse_version_refuses_garbage():
    with pytest.raises(ValueError):
        lib.parse_version("stable")


@pytest.mark.parametrize(("version", "key"), [
    ("1.12.6", "graph"), ("1.13.1", "graph"), ("17.03.2", "graph"), ("17.05.0", "data-root"),
    ("20.10.24", "data-root"), ("", "data-root"),
])
def test_data_root_key(version, key):
    assert lib.data_root_key(version) == key


@pytest.mark.parametrize(("version", "supported"), [
    ("1.12.6", False), ("20.10.24", False), ("23.0.0", True), ("28.5.2", True), ("", True)])
def test_validate_exists_from_23(version, supported):
    assert lib.supports_validate(version) is supported


# --- daemon.json ---------------------------------------------------------------------------


def test_daemon_json_for_1_12_uses_graph_and_drops_unknown_keys():
    settings = {**SETTINGS, "daemon_options": {"features": {"buildkit": True}, "debug": True}}
    result = lib.daemon_config(settings, "1.12.6")
    config = result["config"]
    assert config["graph"] == "/appdata/lib/docker"
    assert "data-root" not in config
    assert set(config) <= lib.KEYS_1_12
    assert config["registry-mirrors"] == ["https://mirror.example.internal"]
    assert config["exec-opts"] == ["native.cgroupdriver=systemd"]
    assert config["debug"] is True
    dropped = {d["key"]: d["reason"] for d in result["dropped"]}
    assert set(dropped) == {"default-address-pools", "features"}
    assert "unknown to Docker 1.12.6" in dropped["features"]
    assert result["data_root_key"] == "graph"


def test_daemon_json_for_ce_uses_data_root_and_keeps_every_key():
    result = lib.daemon_config(SETTINGS, "24.0.7")
    config = result["config"]
    assert config == {
        "registry-mirrors": ["https://mirror.example.internal"],
        "insecure-registries": ["192.168.1.10:5000"],
        "exec-opts": ["native.cgroupdriver=systemd"],
        "log-driver": "json-file",
        "log-opts": {"max-size": "100m", "max-file": "3"},
        "storage-driver": "overlay2",
        "live-restore": True,
        "bip": "172.17.0.1/16",
        "default-address-pools": [{"base": "172.30.0.0/16", "size": 24}],
        "data-root": "/appdata/lib/docker",
    }
    assert result["dropped"] == []


def test_graph_or_data_root_in_the_options_becomes_the_right_key():
    settings = {**SETTINGS, "data_root": "", "daemon_options": {"graph": "/data/docker/"}}
    assert lib.daemon_config(settings, "24.0.7")["config"]["data-root"] == "/data/docker"
    assert "graph" not in lib.daemon_config(settings, "24.0.7")["config"]
    settings = {**SETTINGS, "data_root": "", "daemon_options": {"data-root": "/data/docker"}}
    assert lib.daemon_config(settings, "1.12.6")["config"]["graph"] == "/data/docker"


def test_no_data_root_leaves_the_default():
    config = lib.daemon_config({**SETTINGS, "data_root": ""}, "20.10.24")["config"]
    assert "data-root" not in config and "graph" not in config


def test_graph_is_dropped_by_docker_23():
    # Only reachable through the raw key mapping: the role never writes graph for 23.
    assert lib.key_supported("graph", "23.0.0")[0] is False
    assert lib.key_supported("graph", "20.10.0")[0] is True


def test_newer_keys_need_their_version():
    assert lib.key_supported("default-address-pools", "18.03.1") == (False, "needs Docker 18.6.0 or later")
    assert lib.key_supported("default-address-pools", "18.06.0")[0] is True
    assert lib.key_supported("some-future-key", "28.0.0")[0] is True
    assert lib.key_supported("some-future-key", "1.12.6")[0] is False


def test_empty_settings_give_an_empty_file():
    assert lib.daemon_config({}, "20.10.24") == {
        "config": {}, "dropped": [], "data_root": "", "data_root_key": "data-root"}


# --- flags ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("flag", "key"), [
    ("-H", "hosts"), ("--host=unix:///x", "hosts"), ("--exec-opt", "exec-opts"), ("-g", "graph"),
    ("--data-root=/x", "data-root"), ("--log-driver=journald", "log-driver"), ("fd://", None),
    ("--registry-mirror", "registry-mirrors"), ("--add-runtime", "runtimes"), ("-s", "storage-driver"),
])
def test_flag_key(flag, key):
    assert lib.flag_key(flag) == key


def test_conflicts_find_flags_that_daemon_json_sets_too():
    config = {"hosts": ["unix:///var/run/docker.sock"], "data-root": "/x", "log-driver": "json-file"}
    assert lib.conflicts(["-H fd://", "--graph=/y", "--containerd=/run/c.sock"], config) == ["data-root", "hosts"]
    assert lib.conflicts(["--containerd=/run/c.sock"], config) == []


def test_builtin_flags_give_way_to_daemon_json():
    flags = lib.builtin_flags("distro", "Debian", "20.10.24")
    assert flags == ["-H fd://", "--containerd=/run/containerd/containerd.sock"]
    assert lib.dockerd_flags(flags, [], {}) == flags
    assert lib.dockerd_flags(flags, ["--debug"], {"hosts": ["tcp://0.0.0.0:2375"]}) == [
        "--containerd=/run/containerd/containerd.sock", "--debug"]


@pytest.mark.parametrize(("method", "family", "version", "expected"), [
    ("static", "Debian", "20.10.24", []),
    ("legacy", "RedHat", "1.12.6", []),
    ("ce", "RedHat", "17.03.2", []),
    ("ce", "RedHat", "", lib.SOCKET_FLAGS),
    ("ce", "Debian", "24.0.7", lib.SOCKET_FLAGS),
    ("distro", "RedHat", "1.13.1", lib.EL7_DISTRO_FLAGS),
])
def test_builtin_flags_per_method(method, family, version, expected):
    assert lib.builtin_flags(method, family, version) == expected


def test_el7_distro_flags_do_not_conflict_with_the_default_daemon_json():
    config = lib.daemon_config(SETTINGS, "1.13.1")["config"]
    assert lib.conflicts(lib.EL7_DISTRO_FLAGS, config) == []


# --- packages ------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "family", "major", "version", "expected"), [
    ("ce", "RedHat", "7", "", ["docker-ce", "docker-ce-cli", "containerd.io"]),
    ("ce", "RedHat", "8", "24.0.7", ["docker-ce-24.0.7", "docker-ce-cli-24.0.7", "containerd.io"]),
    ("ce", "RedHat", "7", "18.06.3", ["docker-ce-18.06.3"]),
    ("ce", "RedHat", "7", "17.03.2", ["docker-ce-17.03.2", "docker-ce-selinux-17.03.2"]),
    ("ce", "Debian", "12", "", ["docker-ce", "docker-ce-cli", "containerd.io"]),
    ("ce", "Debian", "12", "24.0.7", ["docker-ce=5:24.0.7*", "docker-ce-cli=5:24.0.7*", "containerd.io"]),
    ("distro", "Debian", "12", "", ["docker.io"]),
    ("distro", "RedHat", "7", "", ["docker"]),
    ("static", "Debian", "12", "", []),
])
def test_packages(method, family, major, version, expected):
    assert lib.packages(method, family, major, version) == expected


def test_legacy_packages_are_the_two_rpms():
    assert lib.packages("legacy", "RedHat", "7", "1.12.6", "http://repo.example.com/docker/") == [
        "http://repo.example.com/docker/docker-engine-selinux-1.12.6-1.el7.centos.noarch.rpm",
        "http://repo.example.com/docker/docker-engine-1.12.6-1.el7.centos.x86_64.rpm",
    ]
    assert lib.packages("legacy", "RedHat", "7", "1.12.6", "/srv/rpms")[1] == \
        "/srv/rpms/docker-engine-1.12.6-1.el7.centos.x86_64.rpm"


def test_conflicting_packages_are_only_the_installed_ones():
    installed = ["bash", "docker", "docker-common", "podman-docker", "docker-ce"]
    assert lib.conflicting_packages("ce", "RedHat", installed) == ["docker", "docker-common", "podman-docker"]
    assert lib.conflicting_packages("distro", "RedHat", installed) == ["docker-ce"]
    assert lib.conflicting_packages("legacy", "RedHat", installed + ["docker-engine"]) == [
        "docker", "docker-ce", "docker-common", "podman-docker"]
    assert lib.conflicting_packages("static", "Debian", ["docker.io", "containerd", "runc", "bash"]) == [
        "containerd", "docker.io", "runc"]
    assert lib.conflicting_packages("distro", "Debian", ["docker.io"]) == []


def test_moving_to_ce_removes_docker_engine():
    assert "docker-engine" in lib.conflicting_packages("ce", "RedHat", ["docker-engine", "docker-engine-selinux"])


# --- preflight -----------------------------------------------------------------------------


def test_good_settings_have_no_problems():
    assert lib.problems(good()) == []
    assert lib.problems(good(install_method="legacy", version="1.12.6", legacy_location="/srv/rpms")) == []
    assert lib.problems(good(install_method="static", os_family="Debian", major="12")) == []


@pytest.mark.parametrize(("changes", "words"), [
    ({"install_method": "snap"}, ["docker_install_method", "'snap'", "ce, legacy, distro, static"]),
    ({"registry_mirrors": ["ftp://m.example.com"]}, ["docker_registry_mirrors", "ftp://m.example.com", "http://"]),
    ({"registry_mirrors": ["mirror.example.com"]}, ["docker_registry_mirrors", "mirror.example.com"]),
    ({"daemon_options": {"graph": "/a", "data-root": "/b"}}, ["graph and data-root", "docker_data_root"]),
    ({"data_root": "/a", "daemon_options": {"graph": "/b"}}, ["docker_daemon_options.graph", "docker_data_root"]),
    ({"data_root": "relative/dir"}, ["docker_data_root", "absolute"]),
    ({"cgroup_driver": "cgroupfs2"}, ["docker_cgroup_driver", "systemd or cgroupfs"]),
    ({"extra_flags": ["--registry-mirror=https://x.example.com"]},
     ["docker_dockerd_extra_flags", "registry-mirrors"]),
    ({"extra_flags": ["-g /data"]}, ["docker_dockerd_extra_flags", "data-root"]),
    ({"install_method": "legacy", "version": "", "legacy_location": ""},
     ["docker_version", "1.12.6", "docker_legacy_rpm_location"]),
    ({"install_method": "legacy", "version": "1.12.6", "legacy_location": "/srv", "os_family": "Debian"},
     ["EL 7 only"]),
    ({"install_method": "distro", "major": "9"}, ["podman-docker"]),
    ({"install_method": "ce", "version": "1.12.6"}, ["legacy"]),
    ({"version": "stable"}, ["docker_version", "'stable'"]),
    ({"ce_repo_url": "mirrors.aliyun.com/docker-ce"}, ["docker_ce_repo_url"]),
    ({"insecure_registries": ["http ://bad"]}, ["docker_insecure_registries"]),
    ({"default_address_pools": [{"base": "172.30.0.0/16"}]}, ["docker_default_address_pools"]),
    ({"users": ["bad user"]}, ["docker_users"]),
])
def test_bad_values_are_named_with_the_fix(changes, words):
    found = lib.problems(good(**changes))
    assert found, changes
    text = " ".join(found)
    for word in words:
        assert word in text, f"{word!r} missing from {found}"
