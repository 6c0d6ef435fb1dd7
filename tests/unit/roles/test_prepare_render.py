"""Render tests of the prepare role (roles/prepare).

No EL host is available to the project, so the EL code paths of the role are verified
here: the templates are rendered with jinja2 against the role's real defaults and per-OS
vars files, the way Ansible would render them for each platform.

Self-contained on purpose: needs only pytest, PyYAML and jinja2.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import jinja2
import pytest
import yaml
from jinja2.nativetypes import NativeEnvironment

ROLE = Path(__file__).resolve().parents[3] / "roles" / "prepare"
VARS = ROLE / "vars"
TEMPLATES = ROLE / "templates"

ANSIBLE_MANAGED = "Ansible managed"

# Facts of the platforms the role supports: (distribution, major, os_family, release).
PLATFORMS = {
    "CentOS 7": ("CentOS", "7", "RedHat", "Core"),
    "Rocky 8": ("Rocky", "8", "RedHat", "Green Obsidian"),
    "Rocky 9": ("Rocky", "9", "RedHat", "Blue Onyx"),
    "AlmaLinux 8": ("AlmaLinux", "8", "RedHat", "Sapphire Caracal"),
    "AlmaLinux 9": ("AlmaLinux", "9", "RedHat", "Seafoam Ocelot"),
    "RHEL 9": ("RedHat", "9", "RedHat", "Plow"),
    "Debian 12": ("Debian", "12", "Debian", "bookworm"),
}


# --- helpers ---------------------------------------------------------------------------


def load_yaml(path: Path):
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def comment_filter(text: str) -> str:
    """Stub of Ansible's ``comment`` filter (plain style)."""
    lines = ["#"] + [f"# {line}" if line else "#" for line in text.splitlines()] + ["#"]
    return "\n".join(lines)


def is_templated(value) -> bool:
    return "{{" in yaml.safe_dump(value)


def per_os_files() -> list[Path]:
    return sorted(p for p in VARS.glob("*.yml") if p.name != "main.yml")


def vars_candidates(distribution: str, major: str, os_family: str) -> list[str]:
    """The first_found candidates of tasks/preflight.yml, rendered for the given facts."""
    tasks = load_yaml(ROLE / "tasks" / "preflight.yml")
    (task,) = [t for t in tasks if "ansible.builtin.include_vars" in t]
    files = task["vars"]["__prepare_vars_candidates"]["files"]
    facts = {"distribution": distribution, "distribution_major_version": major, "os_family": os_family}
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    return [env.from_string(f).render(ansible_facts=facts) for f in files]


def platform_vars_file(distribution: str, major: str, os_family: str) -> Path:
    for name in vars_candidates(distribution, major, os_family):
        if (VARS / name).is_file():
            return VARS / name
    raise AssertionError("no candidate found, not even main.yml")


def resolve(value, context, env):
    """Render Ansible-style templated values (recursively) with native types."""
    if isinstance(value, str) and "{{" in value:
        return env.from_string(value).render(**context)
    if isinstance(value, list):
        return [resolve(v, context, env) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, context, env) for k, v in value.items()}
    return value


def role_context(platform: str, **overrides) -> dict:
    """Variables as Ansible sees them in the role for a platform: cluster defaults, role
    defaults, vars/main.yml, the first_found per-OS file, facts, then overrides."""
    distribution, major, os_family, release = PLATFORMS[platform]
    context: dict = {}
    cluster_defaults = load_yaml(ROLE.parent / "cluster" / "defaults" / "main.yml")
    context.update({k: v for k, v in cluster_defaults.items() if not is_templated(v)})
    context.update(load_yaml(ROLE / "defaults" / "main.yml"))
    context.update(load_yaml(VARS / "main.yml"))
    context.update(load_yaml(platform_vars_file(distribution, major, os_family)))
    context["ansible_facts"] = {
        "distribution": distribution,
        "distribution_major_version": major,
        "os_family": os_family,
        "distribution_release": release,
    }
    context["ansible_managed"] = ANSIBLE_MANAGED
    context.update(overrides)
    env = NativeEnvironment(undefined=jinja2.StrictUndefined)
    for key in list(context):
        if key.startswith("prepare_"):
            context[key] = resolve(context[key], context, env)
    return context


def render(template: str, context: dict) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["comment"] = comment_filter
    return env.get_template(template).render(**context)


def active_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def parse_repo_file(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return parser


def parse_deb822(text: str) -> list[dict]:
    stanzas, current = [], {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            if current:
                stanzas.append(current)
            current = {}
            continue
        key, _unused, value = line.partition(":")
        current[key.strip()] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


# --- vars and argument specs -----------------------------------------------------------


def test_per_os_vars_files_define_the_same_internal_keys():
    files = per_os_files()
    assert len(files) >= 7
    keys = {f.name: set(load_yaml(f)) for f in files}
    reference = keys["Debian_12.yml"]
    for name, names in keys.items():
        assert names == reference, f"{name} differs: {sorted(names ^ reference)}"
        assert all(k.startswith("__prepare_") for k in names), name
    # vars/main.yml holds the fallback of every per-OS key (unsupported platforms).
    assert reference <= set(load_yaml(VARS / "main.yml"))
    assert load_yaml(VARS / "main.yml")["__prepare_platform_supported"] is False
    for f in files:
        assert load_yaml(f)["__prepare_platform_supported"] is True, f.name


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (("CentOS", "7", "RedHat"), "CentOS_7.yml"),
        (("RedHat", "7", "RedHat"), "RedHat_7.yml"),
        (("Rocky", "8", "RedHat"), "Rocky_8.yml"),
        (("Rocky", "9", "RedHat"), "Rocky_9.yml"),
        (("AlmaLinux", "8", "RedHat"), "AlmaLinux_8.yml"),
        (("AlmaLinux", "9", "RedHat"), "AlmaLinux_9.yml"),
        (("RedHat", "8", "RedHat"), "RedHat_8.yml"),
        (("RedHat", "9", "RedHat"), "RedHat_9.yml"),
        (("OracleLinux", "9", "RedHat"), "RedHat_9.yml"),
        (("CentOS", "9", "RedHat"), "RedHat_9.yml"),
        (("Debian", "12", "Debian"), "Debian_12.yml"),
        (("Debian", "13", "Debian"), "main.yml"),
        (("Ubuntu", "24", "Debian"), "main.yml"),
    ],
)
def test_first_found_picks_the_platform_file(facts, expected):
    assert platform_vars_file(*facts).name == expected


def test_argument_specs_mirror_the_defaults():
    defaults = load_yaml(ROLE / "defaults" / "main.yml")
    options = load_yaml(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert set(options) == set(defaults)
    python_types = {"bool": bool, "str": str, "int": int, "list": list, "dict": dict}
    for name, value in defaults.items():
        spec = options[name]
        assert spec.get("description"), name
        if is_templated(value):
            # Computed defaults (per-OS or from cluster settings) are described, not repeated.
            assert "default" not in spec, name
            continue
        assert "default" in spec, name
        assert spec["default"] == value, name
        assert isinstance(value, python_types[spec["type"]]), name
        if "choices" in spec:
            assert value in spec["choices"], name
        if spec["type"] == "list" and spec.get("elements") == "str":
            assert all(isinstance(v, str) for v in value), name


def test_argument_spec_choices():
    options = load_yaml(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert options["prepare_firewall"]["choices"] == ["disabled", "open", "unmanaged"]
    assert options["prepare_selinux_state"]["choices"] == ["permissive", "enforcing", "disabled"]


def test_defaults_hold_the_documented_values():
    defaults = load_yaml(ROLE / "defaults" / "main.yml")
    assert defaults["prepare_firewall_ports"] == {
        "etcd": ["2379-2380/tcp"],
        "kube_control_plane": ["6443/tcp", "10257/tcp", "10259/tcp"],
        "k8s_cluster": ["10250/tcp", "10256/tcp", "30000-32767/tcp"],
        "rancher_server": ["80/tcp", "443/tcp"],
    }
    assert defaults["prepare_firewall_network_plugin_ports"] == {
        "bridge": [],
        "flannel": ["8472/udp"],
        "calico": ["179/tcp", "4789/udp", "5473/tcp"],
    }
    assert defaults["prepare_sysctl"] == {
        "net.ipv4.ip_forward": 1,
        "net.bridge.bridge-nf-call-iptables": 1,
        "net.bridge.bridge-nf-call-ip6tables": 1,
    }
    assert defaults["prepare_kernel_modules"] == ["br_netfilter", "overlay"]
    assert defaults["prepare_base_packages"] == "{{ __prepare_base_packages }}"
    assert defaults["prepare_yum_mirror_repos"] == "{{ __prepare_yum_mirror_repos }}"
    for key in ("prepare_apt_mirror_url", "prepare_apt_security_mirror_url", "prepare_yum_mirror_url"):
        assert defaults[key] == "", key


def test_cluster_network_plugins_all_have_firewall_ports():
    # cluster_network_plugin is one of bridge, flannel, calico (roles/cluster).
    defaults = load_yaml(ROLE / "defaults" / "main.yml")
    assert set(defaults["prepare_firewall_network_plugin_ports"]) == {"bridge", "flannel", "calico"}
    cluster = load_yaml(ROLE.parent / "cluster" / "defaults" / "main.yml")
    assert cluster["cluster_network_plugin"] in defaults["prepare_firewall_network_plugin_ports"]


@pytest.mark.parametrize(
    ("platform", "present", "absent"),
    [
        ("Debian 12", {"conntrack", "iptables", "ipset", "socat", "curl", "tar", "kmod", "procps"}, set()),
        ("CentOS 7", {"conntrack-tools", "iptables", "ipset", "socat", "curl", "tar"}, set()),
        ("Rocky 8", {"conntrack-tools", "iptables", "ipset", "socat", "curl", "tar"}, set()),
        ("Rocky 9", {"conntrack-tools", "iptables-nft", "ipset", "socat", "tar"}, {"curl"}),
        ("AlmaLinux 9", {"conntrack-tools", "iptables-nft", "ipset", "socat", "tar"}, {"curl"}),
    ],
)
def test_base_packages_per_os(platform, present, absent):
    packages = set(role_context(platform)["prepare_base_packages"])
    assert present <= packages
    assert not absent & packages
    # chrony comes with prepare_time_sync, firewalld with prepare_firewall: open.
    assert "chrony" not in packages and "firewalld" not in packages


# --- templates -------------------------------------------------------------------------


def test_every_template_starts_with_ansible_managed():
    templates = sorted(TEMPLATES.glob("*.j2"))
    assert templates
    for template in templates:
        first = template.read_text(encoding="utf-8").splitlines()[0]
        assert first == "{{ ansible_managed | comment }}", template.name


EL_MIRRORS = {
    "CentOS 7": (
        "https://mirrors.aliyun.com/centos-vault/7.9.2009",
        {
            "corral-base": ("https://mirrors.aliyun.com/centos-vault/7.9.2009/os/$basearch/", "CentOS-Base.repo"),
            "corral-updates": (
                "https://mirrors.aliyun.com/centos-vault/7.9.2009/updates/$basearch/",
                "CentOS-Base.repo",
            ),
            "corral-extras": (
                "https://mirrors.aliyun.com/centos-vault/7.9.2009/extras/$basearch/",
                "CentOS-Base.repo",
            ),
        },
        "file:///etc/pki/rpm-gpg/RPM-GPG-KEY-CentOS-7",
    ),
    "Rocky 8": (
        "https://mirrors.aliyun.com/rockylinux",
        {
            "corral-baseos": (
                "https://mirrors.aliyun.com/rockylinux/$releasever/BaseOS/$basearch/os/",
                "Rocky-BaseOS.repo",
            ),
            "corral-appstream": (
                "https://mirrors.aliyun.com/rockylinux/$releasever/AppStream/$basearch/os/",
                "Rocky-AppStream.repo",
            ),
            "corral-extras": (
                "https://mirrors.aliyun.com/rockylinux/$releasever/extras/$basearch/os/",
                "Rocky-Extras.repo",
            ),
        },
        "file:///etc/pki/rpm-gpg/RPM-GPG-KEY-rockyofficial",
    ),
    "Rocky 9": (
        "https://mirrors.aliyun.com/rockylinux/",  # a trailing slash is not doubled
        {
            "corral-baseos": (
                "https://mirrors.aliyun.com/rockylinux/$releasever/BaseOS/$basearch/os/",
                "rocky.repo",
            ),
            "corral-appstream": (
                "https://mirrors.aliyun.com/rockylinux/$releasever/AppStream/$basearch/os/",
                "rocky.repo",
            ),
            "corral-extras": (
                "https://mirrors.aliyun.com/rockylinux/$releasever/extras/$basearch/os/",
                "rocky-extras.repo",
            ),
        },
        "file:///etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9",
    ),
    "AlmaLinux 8": (
        "https://mirrors.aliyun.com/almalinux",
        {
            "corral-baseos": (
                "https://mirrors.aliyun.com/almalinux/$releasever/BaseOS/$basearch/os/",
                "almalinux.repo",
            ),
            "corral-appstream": (
                "https://mirrors.aliyun.com/almalinux/$releasever/AppStream/$basearch/os/",
                "almalinux.repo",
            ),
            "corral-extras": (
                "https://mirrors.aliyun.com/almalinux/$releasever/extras/$basearch/os/",
                "almalinux.repo",
            ),
        },
        "file:///etc/pki/rpm-gpg/RPM-GPG-KEY-AlmaLinux",
    ),
    "AlmaLinux 9": (
        "https://mirrors.aliyun.com/almalinux",
        {
            "corral-baseos": (
                "https://mirrors.aliyun.com/almalinux/$releasever/BaseOS/$basearch/os/",
                "almalinux-baseos.repo",
            ),
            "corral-appstream": (
                "https://mirrors.aliyun.com/almalinux/$releasever/AppStream/$basearch/os/",
                "almalinux-appstream.repo",
            ),
            "corral-extras": (
                "https://mirrors.aliyun.com/almalinux/$releasever/extras/$basearch/os/",
                "almalinux-extras.repo",
            ),
        },
        "file:///etc/pki/rpm-gpg/RPM-GPG-KEY-AlmaLinux-9",
    ),
}


@pytest.mark.parametrize("platform", sorted(EL_MIRRORS))
def test_yum_mirror_repo_file(platform):
    url, expected, gpgkey = EL_MIRRORS[platform]
    context = role_context(platform, prepare_yum_mirror_url=url)
    text = render("corral-mirror.repo.j2", context)
    assert text.startswith("#\n# Ansible managed\n#\n")
    repo = parse_repo_file(text)
    assert repo.sections() == list(expected)
    for section, (baseurl, _unused) in expected.items():
        assert repo[section]["baseurl"] == baseurl
        assert repo[section]["gpgkey"] == gpgkey
        assert repo[section]["enabled"] == "1"
        assert repo[section]["gpgcheck"] == "1"
        assert repo[section]["name"].endswith("(corral mirror)")
    # The distribution's repos of the same ids are disabled in these files.
    files = {f"corral-{r['id']}": r["file"] for r in context["prepare_yum_mirror_repos"]}
    assert files == {section: file for section, (_unused, file) in expected.items()}


def test_yum_mirror_has_no_builtin_layout_for_rhel():
    # RHEL content comes through subscription-manager: the user names the repos.
    assert role_context("RHEL 9")["prepare_yum_mirror_repos"] == []


def test_yum_mirror_repos_can_be_overridden():
    repos = [{"id": "baseos", "path": "el9/baseos/", "gpgkey": "file:///k", "file": "redhat.repo"}]
    context = role_context("RHEL 9", prepare_yum_mirror_url="http://192.0.2.10/rhel", prepare_yum_mirror_repos=repos)
    repo = parse_repo_file(render("corral-mirror.repo.j2", context))
    assert repo.sections() == ["corral-baseos"]
    assert repo["corral-baseos"]["baseurl"] == "http://192.0.2.10/rhel/el9/baseos/"
    assert repo["corral-baseos"]["name"] == "baseos (corral mirror)"


@pytest.mark.parametrize(
    ("security_url", "expected_security"),
    [
        ("", "http://deb.debian.org/debian-security"),
        ("http://mirrors.aliyun.com/debian-security", "http://mirrors.aliyun.com/debian-security"),
    ],
)
def test_debian_sources_deb822(security_url, expected_security):
    context = role_context(
        "Debian 12",
        prepare_apt_mirror_url="http://mirrors.aliyun.com/debian",
        prepare_apt_security_mirror_url=security_url,
    )
    text = render("debian.sources.j2", context)
    assert text.startswith("#\n# Ansible managed\n#\n")
    main, security = parse_deb822(text)
    keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
    assert main == {
        "Types": "deb",
        "URIs": "http://mirrors.aliyun.com/debian",
        "Suites": "bookworm bookworm-updates",
        "Components": "main",
        "Signed-By": keyring,
    }
    assert security == {
        "Types": "deb",
        "URIs": expected_security,
        "Suites": "bookworm-security",
        "Components": "main",
        "Signed-By": keyring,
    }


def test_debian_sources_components():
    context = role_context(
        "Debian 12",
        prepare_apt_mirror_url="http://mirrors.aliyun.com/debian",
        prepare_apt_mirror_components=["main", "contrib", "non-free-firmware"],
    )
    for stanza in parse_deb822(render("debian.sources.j2", context)):
        assert stanza["Components"] == "main contrib non-free-firmware"


def test_sources_list_keeps_only_comments():
    text = render("sources.list.j2", role_context("Debian 12", prepare_apt_mirror_url="http://x.example/debian"))
    assert active_lines(text) == []
    assert "/etc/apt/sources.list.d/debian.sources" in text


CHRONY = {
    "Debian 12": ("/etc/chrony/chrony.conf", "chrony", "/var/lib/chrony/chrony.drift"),
    "CentOS 7": ("/etc/chrony.conf", "chronyd", "/var/lib/chrony/drift"),
    "Rocky 8": ("/etc/chrony.conf", "chronyd", "/var/lib/chrony/drift"),
    "Rocky 9": ("/etc/chrony.conf", "chronyd", "/var/lib/chrony/drift"),
    "AlmaLinux 9": ("/etc/chrony.conf", "chronyd", "/var/lib/chrony/drift"),
}


@pytest.mark.parametrize("platform", sorted(CHRONY))
def test_chrony_config(platform):
    path, service, driftfile = CHRONY[platform]
    context = role_context(platform, prepare_ntp_servers=["192.0.2.1", "ntp.example.com"])
    assert context["__prepare_chrony_config_path"] == path
    assert context["__prepare_chrony_service"] == service
    text = render("chrony.conf.j2", context)
    assert text.startswith("#\n# Ansible managed\n#\n")
    assert active_lines(text) == [
        "server 192.0.2.1 iburst",
        "server ntp.example.com iburst",
        f"driftfile {driftfile}",
        "makestep 1 3",
        "rtcsync",
    ]


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_modules_load_file(platform):
    context = role_context(platform)
    text = render("modules-load.conf.j2", context)
    assert text.startswith("#\n# Ansible managed\n#\n")
    assert active_lines(text) == ["br_netfilter", "overlay"]
    assert context["__prepare_modules_load_file"] == "/etc/modules-load.d/corral-kubernetes.conf"
    text = render("modules-load.conf.j2", role_context(platform, prepare_kernel_modules=["nf_conntrack"]))
    assert active_lines(text) == ["nf_conntrack"]


# --- task data -------------------------------------------------------------------------


def fstab_replace_args() -> tuple[str, str]:
    tasks = load_yaml(ROLE / "tasks" / "configure.yml")
    (args,) = [t["ansible.builtin.replace"] for t in tasks if "ansible.builtin.replace" in t]
    assert args["path"] == "/etc/fstab"
    assert args["regexp"] == "{{ __prepare_fstab_swap_regexp }}"
    return load_yaml(VARS / "main.yml")["__prepare_fstab_swap_regexp"], args["replace"]


def state_value(name: str, contents: dict, units: dict | None = None, **context) -> object:
    """A value of vars/main.yml derived from install.yml's read (__prepare_host_state), rendered as Ansible
    would (its regex and match tests: Python's re, search and match)."""
    env = NativeEnvironment(undefined=jinja2.StrictUndefined, trim_blocks=True, keep_trailing_newline=True)
    env.tests["ansible.builtin.regex"] = lambda value, pattern, multiline=False: bool(
        re.search(pattern, value, re.MULTILINE if multiline else 0))
    env.tests["ansible.builtin.match"] = lambda value, pattern: bool(re.match(pattern, value))
    env.tests["match"] = env.tests["ansible.builtin.match"]
    env.filters["split"] = lambda value, separator=None: value.split(separator)
    env.filters["difference"] = lambda left, right: [item for item in dict.fromkeys(left) if item not in right]
    values = load_yaml(VARS / "main.yml")
    context = {**values, "__prepare_host_state": {"contents": contents, "units": units or {}},
               "__prepare_chrony_service": "chrony", **context}
    for _round in range(4):  # the values refer to each other: a few rounds settle those the test needs
        for key in [key for key in values if key.startswith("__prepare_state_") or key in STATE_VALUES]:
            try:
                context[key] = resolve(values[key], context, env)
            except (jinja2.TemplateError, KeyError, TypeError):  # not settled yet
                continue
    return context[name]


# What tasks/configure.yml and tasks/service.yml decide from install.yml's read.
STATE_VALUES = ("__prepare_packages_missing", "__prepare_hosts_block", "__prepare_hosts_begin", "__prepare_hosts_text",
                "__prepare_hosts_listed", "__prepare_swap_active", "__prepare_fstab_swap", "__prepare_chrony_unit",
                "__prepare_chrony_settled", "__prepare_static_hostname")


HOSTS = {"node1": {"cluster_node_ip": "10.0.0.1", "cluster_node_name": "node1"},
         "node2": {"cluster_node_ip": "10.0.0.2", "cluster_node_name": "node2"}}
BLOCK = "# BEGIN corral.cluster managed hosts\n10.0.0.1  node1\n10.0.0.2  node2\n# END corral.cluster managed hosts\n"


@pytest.mark.parametrize("etc_hosts, listed", [
    ("127.0.0.1 localhost\n" + BLOCK, True),
    ("127.0.0.1 localhost\n" + BLOCK + "10.9.9.9 other\n", True),
    ("127.0.0.1 localhost\n" + BLOCK.replace("10.0.0.2  node2\n", ""), False),  # a host missing
    ("127.0.0.1 localhost\n" + BLOCK.replace("10.0.0.2", "10.0.0.9"), False),  # an address changed
    ("127.0.0.1 localhost\n" + BLOCK + BLOCK, False),  # twice: blockinfile mends it
    ("127.0.0.1 localhost\n", False),
    (None, False),  # no /etc/hosts
])
def test_the_hosts_block_is_written_only_when_the_file_lacks_it(etc_hosts, listed):
    context = {"hostvars": HOSTS, "__prepare_hosts_members": ["node1", "node2"]}
    assert state_value("__prepare_hosts_text", {"/etc/hosts": etc_hosts}, **context) == BLOCK
    assert state_value("__prepare_hosts_listed", {"/etc/hosts": etc_hosts}, **context) is listed


@pytest.mark.parametrize("fstab, swap", [
    ("UUID=1 / ext4 defaults 0 1\nUUID=2 none swap sw 0 0\n", True),
    ("UUID=1 / ext4 defaults 0 1\n# UUID=2 none swap sw 0 0\n", False),
    ("/dev/sdc1 /srv/swap ext4 defaults 0 2\n", False),
    (None, False),  # no /etc/fstab
])
def test_the_fstab_task_runs_only_when_a_swap_entry_is_active(fstab, swap):
    assert state_value("__prepare_fstab_swap", {"/etc/fstab": fstab}) is swap


@pytest.mark.parametrize("proc_swaps, active", [
    ("Filename\tType\tSize\tUsed\tPriority\n", False),
    ("Filename\tType\tSize\tUsed\tPriority\n/swapfile  file  1048572  0  -2\n", True),
    (None, False),
])
def test_swapoff_runs_only_when_proc_swaps_lists_a_device(proc_swaps, active):
    assert state_value("__prepare_swap_active", {"/proc/swaps": proc_swaps}) is active


@pytest.mark.parametrize("unit, settled", [
    ({"UnitFileState": "enabled", "ActiveState": "active"}, True),
    # A container without CAP_SYS_TIME: systemd skipped the start (a failed condition).
    ({"UnitFileState": "enabled", "ActiveState": "inactive", "ConditionResult": "no",
      "ConditionTimestampMonotonic": "123"}, True),
    ({"UnitFileState": "disabled", "ActiveState": "active"}, False),
    ({"UnitFileState": "enabled", "ActiveState": "inactive", "ConditionResult": "yes"}, False),
    ({"LoadState": "not-found"}, False),  # chrony comes with this run's packages
])
def test_chrony_is_started_only_when_not_enabled_and_running(unit, settled):
    assert state_value("__prepare_chrony_settled", {}, {"chrony": unit}) is settled


def test_fstab_swap_entries_are_commented_out_once():
    regexp, replacement = fstab_replace_args()
    fstab = (
        "# /etc/fstab\n"
        "UUID=1234 / ext4 errors=remount-ro 0 1\n"
        "UUID=abcd none swap sw 0 0\n"
        "/swapfile\tnone\tswap\tdefaults\t0\t0\n"
        "  /dev/sdb2 none swap\n"
        "# UUID=old none swap sw 0 0\n"
        "/dev/sdc1 /srv/swap ext4 defaults 0 2\n"
    )
    # Python's re with MULTILINE, as ansible.builtin.replace does.
    once = re.sub(regexp, replacement, fstab, flags=re.MULTILINE)
    assert once.splitlines() == [
        "# /etc/fstab",
        "UUID=1234 / ext4 errors=remount-ro 0 1",
        "# UUID=abcd none swap sw 0 0",
        "# /swapfile\tnone\tswap\tdefaults\t0\t0",
        "#   /dev/sdb2 none swap",
        "# UUID=old none swap sw 0 0",
        "/dev/sdc1 /srv/swap ext4 defaults 0 2",
    ]
    # Idempotent: a second pass changes nothing.
    assert re.sub(regexp, replacement, once, flags=re.MULTILINE) == once


def test_no_forbidden_modules_in_tasks():
    for path in sorted((ROLE / "tasks").glob("*.yml")) + [ROLE / "handlers" / "main.yml"]:
        text = path.read_text(encoding="utf-8")
        assert "ansible.builtin.shell" not in text, path.name
        assert "ignore_errors" not in text, path.name


@pytest.mark.parametrize("stdout_lines, missing", [
    (["conntrack installed", "socat installed", "chrony installed"], []),
    (["conntrack installed", "socat config-files", "chrony installed"], ["socat"]),  # removed, not purged
    (["conntrack installed", "chrony half-configured"], ["socat", "chrony"]),  # socat unknown to dpkg
    ([], ["conntrack", "socat", "chrony"]),
])
def test_apt_runs_only_for_the_packages_dpkg_does_not_report_installed(stdout_lines, missing):
    value = state_value("__prepare_packages_missing", {}, __prepare_packages=["conntrack", "socat", "chrony"],
                        __prepare_dpkg={"stdout_lines": stdout_lines})
    assert value == missing


def test_the_dpkg_query_prints_a_name_and_a_status_per_line():
    query = load_yaml(VARS / "main.yml")["__prepare_dpkg_query"]
    assert query == ["dpkg-query", "--show", "--showformat=${Package} ${db:Status-Status}\n"]
