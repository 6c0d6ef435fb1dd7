"""Render tests of the docker role (roles/docker).

No EL host is available to the project, and the ce and legacy install methods need the
docker-ce repository or docker-engine rpms, which the lab cannot reach: those paths are verified
here. The role's real defaults, vars/main.yml and per-OS vars are resolved the way Ansible
would for each platform (with the collection's docker filters), and its templates rendered.
"""

from __future__ import annotations

import configparser
import json
import re
from pathlib import Path

import jinja2
import pytest
import yaml
from jinja2.nativetypes import NativeEnvironment

from ansible_collections.corral.cluster.plugins.filter.docker import FilterModule
from ansible_collections.corral.cluster.plugins.module_utils import docker_daemon as lib

ROLE = Path(__file__).resolve().parents[3] / "roles" / "docker"
VARS = ROLE / "vars"
TEMPLATES = ROLE / "templates"

# (distribution, major, os_family, release, architecture)
PLATFORMS = {
    "CentOS 7": ("CentOS", "7", "RedHat", "Core", "x86_64"),
    "Rocky 8": ("Rocky", "8", "RedHat", "Green Obsidian", "x86_64"),
    "Rocky 9": ("Rocky", "9", "RedHat", "Blue Onyx", "x86_64"),
    "RHEL 9": ("RedHat", "9", "RedHat", "Plow", "x86_64"),
    "Debian 12": ("Debian", "12", "Debian", "bookworm", "x86_64"),
}


def load_yaml(path: Path):
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def comment_filter(text: str) -> str:
    lines = ["#"] + [f"# {line}" if line else "#" for line in text.splitlines()] + ["#"]
    return "\n".join(lines)


def with_filters(env):
    for name, func in FilterModule().filters().items():
        env.filters[f"corral.cluster.{name}"] = func
    env.filters["comment"] = comment_filter
    env.filters["regex_replace"] = lambda value, pattern, repl: re.sub(pattern, repl, value)
    env.filters["bool"] = bool
    return env


def platform_vars_file(distribution, major, os_family) -> Path:
    tasks = load_yaml(ROLE / "tasks" / "preflight.yml")
    (task,) = [t for t in tasks if "ansible.builtin.include_vars" in t]
    facts = {"distribution": distribution, "distribution_major_version": major, "os_family": os_family}
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    for name in task["vars"]["__docker_vars_candidates"]["files"]:
        path = VARS / env.from_string(name).render(ansible_facts=facts)
        if path.is_file():
            return path
    raise AssertionError("no candidate, not even main.yml")


def resolve(value, context, env):
    if isinstance(value, str) and "{{" in value:
        return env.from_string(value).render(**context)
    if isinstance(value, list):
        return [resolve(v, context, env) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, context, env) for k, v in value.items()}
    return value


def role_context(platform: str, **overrides) -> dict:
    distribution, major, os_family, release, arch = PLATFORMS[platform]
    context: dict = {}
    cluster = load_yaml(ROLE.parent / "cluster" / "defaults" / "main.yml")
    context.update({k: v for k, v in cluster.items() if "{{" not in yaml.safe_dump(v)})
    context.update(load_yaml(ROLE / "defaults" / "main.yml"))
    context.update(load_yaml(VARS / "main.yml"))
    context.update(load_yaml(platform_vars_file(distribution, major, os_family)))
    context["ansible_facts"] = {"distribution": distribution, "distribution_major_version": major,
                                "os_family": os_family, "distribution_release": release, "architecture": arch}
    context["ansible_managed"] = "Ansible managed"
    context["artifacts_docker_static_version"] = "28.5.2"
    context.update(overrides)
    env = with_filters(NativeEnvironment(undefined=jinja2.StrictUndefined))
    # Twice: some values refer to others (__docker_dockerd to __docker_static_bin_dir).
    for _unused in range(2):
        for key in list(context):
            if key.startswith(("docker_", "__docker_")) and key not in overrides:
                context[key] = resolve(context[key], context, env)
    return context


def configured(context: dict, version: str) -> dict:
    """What configure.yml sets: daemon.json and the dockerd flags for an installed version."""
    daemon = lib.daemon_config(context["__docker_settings"], version)
    builtin = lib.builtin_flags(context["docker_install_method"], context["ansible_facts"]["os_family"], version)
    flags = lib.dockerd_flags(builtin, context["docker_dockerd_extra_flags"], daemon["config"])
    return {**context, "__docker_daemon": daemon, "__docker_flags": flags}


def render(template: str, context: dict) -> str:
    env = with_filters(jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                                          undefined=jinja2.StrictUndefined, trim_blocks=True,
                                          keep_trailing_newline=True))
    return env.get_template(template).render(**context)


def exec_start(text: str) -> str:
    return [line for line in text.splitlines() if line.startswith("ExecStart=")][-1]


# --- structure -----------------------------------------------------------------------------


def test_every_template_starts_with_ansible_managed():
    for template in sorted(TEMPLATES.glob("*.j2")):
        assert template.read_text(encoding="utf-8").splitlines()[0] == "{{ ansible_managed | comment }}", template


def test_argument_specs_mirror_the_defaults():
    defaults = load_yaml(ROLE / "defaults" / "main.yml")
    options = load_yaml(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert set(options) == set(defaults)
    for name, value in defaults.items():
        if "{{" in yaml.safe_dump(value):
            assert "default" not in options[name], name
        else:
            assert options[name]["default"] == value, name


def test_defaults_follow_the_cluster_settings():
    defaults = load_yaml(ROLE / "defaults" / "main.yml")
    assert defaults["docker_registry_mirrors"] == "{{ cluster_registry_mirrors }}"
    assert defaults["docker_cgroup_driver"] == "{{ cluster_cgroup_driver }}"
    assert load_yaml(ROLE / "meta" / "main.yml")["dependencies"] == [{"role": "corral.cluster.cluster"}]


def test_no_forbidden_modules_in_tasks():
    for path in sorted((ROLE / "tasks").glob("*.yml")) + [ROLE / "handlers" / "main.yml"]:
        text = path.read_text(encoding="utf-8")
        assert "ansible.builtin.shell" not in text, path.name
        assert "ignore_errors" not in text, path.name


# --- install methods per platform -----------------------------------------------------------


@pytest.mark.parametrize(("platform", "method", "version", "expected"), [
    ("CentOS 7", "ce", "", ["docker-ce", "docker-ce-cli", "containerd.io"]),
    ("CentOS 7", "ce", "20.10.24", ["docker-ce-20.10.24", "docker-ce-cli-20.10.24", "containerd.io"]),
    ("CentOS 7", "ce", "18.06.3", ["docker-ce-18.06.3"]),
    ("Rocky 8", "ce", "24.0.7", ["docker-ce-24.0.7", "docker-ce-cli-24.0.7", "containerd.io"]),
    ("Rocky 9", "ce", "", ["docker-ce", "docker-ce-cli", "containerd.io"]),
    ("CentOS 7", "legacy", "1.12.6", [
        "https://rpms.example.com/docker/docker-engine-selinux-1.12.6-1.el7.centos.noarch.rpm",
        "https://rpms.example.com/docker/docker-engine-1.12.6-1.el7.centos.x86_64.rpm"]),
    ("CentOS 7", "distro", "", ["docker"]),
    ("CentOS 7", "static", "", []),
    ("Debian 12", "distro", "", ["docker.io"]),
    ("Debian 12", "ce", "24.0.7", ["docker-ce=5:24.0.7*", "docker-ce-cli=5:24.0.7*", "containerd.io"]),
])
def test_package_list_per_method_and_el_version(platform, method, version, expected):
    context = role_context(platform, docker_install_method=method, docker_version=version,
                           docker_legacy_rpm_location="https://rpms.example.com/docker/")
    assert context["__docker_packages"] == expected


@pytest.mark.parametrize(("platform", "method", "dockerd", "expected_version"), [
    ("CentOS 7", "legacy", "/usr/bin/dockerd", "1.12.6"),
    ("CentOS 7", "distro", "/usr/bin/dockerd-current", "1.13.1"),
    ("CentOS 7", "ce", "/usr/bin/dockerd", "latest"),
    ("Rocky 9", "static", "/usr/local/bin/dockerd", "28.5.2"),
    ("Debian 12", "distro", "/usr/sbin/dockerd", "20.10.24"),
    ("Debian 12", "static", "/usr/local/bin/dockerd", "28.5.2"),
])
def test_dockerd_path_and_expected_version(platform, method, dockerd, expected_version):
    version = "1.12.6" if method == "legacy" else ""
    context = role_context(platform, docker_install_method=method, docker_version=version)
    assert context["__docker_dockerd"] == dockerd
    assert context["__docker_expected_version"] == expected_version


def test_static_packages_per_family():
    assert role_context("Debian 12")["__docker_static_packages"] == ["iptables", "procps", "xz-utils"]
    assert role_context("CentOS 7")["__docker_static_packages"] == ["iptables", "procps-ng", "xz"]


# --- repositories ----------------------------------------------------------------------------


@pytest.mark.parametrize("platform", ["CentOS 7", "Rocky 8", "Rocky 9"])
def test_el_repo_file_points_at_the_mirror(platform):
    context = role_context(platform, docker_install_method="ce",
                           docker_ce_repo_url="https://mirrors.aliyun.com/docker-ce/linux/")
    text = render("docker-ce.repo.j2", context)
    assert text.startswith("#\n# Ansible managed\n#\n")
    assert context["__docker_yum_repo_file"] == "/etc/yum.repos.d/docker-ce.repo"
    repo = configparser.ConfigParser(interpolation=None)
    repo.read_string(text)
    assert repo.sections() == ["docker-ce-stable"]
    section = repo["docker-ce-stable"]
    assert section["baseurl"] == "https://mirrors.aliyun.com/docker-ce/linux/centos/$releasever/$basearch/stable"
    assert section["gpgkey"] == "https://mirrors.aliyun.com/docker-ce/linux/centos/gpg"
    assert section["gpgcheck"] == "1"
    assert section["enabled"] == "1"


def test_el_repo_file_upstream_without_gpgcheck():
    text = render("docker-ce.repo.j2", role_context("CentOS 7", docker_ce_repo_gpgcheck=False))
    assert "baseurl=https://download.docker.com/linux/centos/$releasever/$basearch/stable\n" in text
    assert "gpgcheck=0\n" in text


def test_debian_apt_source():
    context = role_context("Debian 12", docker_ce_repo_url="https://mirrors.aliyun.com/docker-ce/linux")
    text = render("docker-ce.sources.j2", context)
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines == [
        "Types: deb",
        "URIs: https://mirrors.aliyun.com/docker-ce/linux/debian",
        "Suites: bookworm",
        "Components: stable",
        "Signed-By: /etc/apt/keyrings/docker.asc",
    ]


# --- daemon.json and units ---------------------------------------------------------------------

MIRROR_URL = "https://mirror.example.internal"


def test_daemon_json_for_1_12_on_centos7():
    context = configured(role_context(
        "CentOS 7", docker_install_method="legacy", docker_version="1.12.6",
        docker_registry_mirrors=[MIRROR_URL], docker_data_root="/appdata/lib/docker",
        docker_default_address_pools=[{"base": "172.30.0.0/16", "size": 24}],
        docker_daemon_options={"features": {"buildkit": True}}), "1.12.6")
    config = context["__docker_daemon"]["config"]
    assert config["graph"] == "/appdata/lib/docker"
    assert "data-root" not in config
    assert set(config) <= lib.KEYS_1_12
    assert config["registry-mirrors"] == [MIRROR_URL]
    assert {d["key"] for d in context["__docker_daemon"]["dropped"]} == {"default-address-pools", "features"}
    # docker-engine 1.12's own unit starts plain dockerd: nothing to keep.
    assert exec_start(render("docker-dropin.conf.j2", context)) == "ExecStart=/usr/bin/dockerd"
    json.dumps(config)


def test_daemon_json_for_ce_with_data_root():
    context = configured(role_context("Rocky 9", docker_install_method="ce", docker_version="24.0.7",
                                      docker_data_root="/appdata/lib/docker"), "24.0.7")
    config = context["__docker_daemon"]["config"]
    assert config["data-root"] == "/appdata/lib/docker"
    assert "graph" not in config
    assert config["exec-opts"] == ["native.cgroupdriver=systemd"]
    dropin = render("docker-dropin.conf.j2", context)
    assert dropin.startswith("#\n# Ansible managed\n#\n")
    assert "ExecStart=\n" in dropin and "EnvironmentFile=\n" in dropin
    assert exec_start(dropin) == "ExecStart=/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock"


def test_el7_distro_dropin_drops_the_sysconfig_options():
    context = configured(role_context("CentOS 7", docker_install_method="distro", docker_cgroup_driver="cgroupfs",
                                      docker_log_driver="journald"), "1.13.1")
    line = exec_start(render("docker-dropin.conf.j2", context))
    assert line.startswith("ExecStart=/usr/bin/dockerd-current --add-runtime docker-runc=")
    assert "$OPTIONS" not in line and "--exec-opt" not in line and "--log-driver" not in line
    assert context["__docker_daemon"]["config"]["log-driver"] == "journald"


def test_static_unit_and_user_flags():
    context = configured(role_context("Debian 12", docker_install_method="static",
                                      docker_dockerd_extra_flags=["--debug"]), "20.10.24")
    unit = render("docker.service.j2", context)
    assert unit.startswith("#\n# Ansible managed\n#\n")
    assert exec_start(unit) == "ExecStart=/usr/local/bin/dockerd --debug"
    assert "Environment=PATH=/usr/local/bin:" in unit
    assert "Delegate=yes" in unit and "Type=notify" in unit


def test_a_hosts_key_replaces_the_socket_flag():
    context = configured(role_context("Debian 12", docker_install_method="distro",
                                      docker_daemon_options={"hosts": ["unix:///run/docker.sock"]}), "20.10.24")
    assert exec_start(render("docker-dropin.conf.j2", context)) == \
        "ExecStart=/usr/sbin/dockerd --containerd=/run/containerd/containerd.sock"


def test_the_role_settings_pass_the_checks_on_every_platform():
    for platform in PLATFORMS:
        method = "distro" if platform in ("CentOS 7", "Debian 12") else "ce"
        context = role_context(platform, docker_install_method=method)
        assert lib.problems(context["__docker_settings"]) == [], platform
