"""kernel_settings on a fake /proc and /sys: what a run sets and writes, check mode, diff, errors."""

import json
import os
import stat

import pytest
from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.corral.cluster.plugins.modules import kernel_settings


@pytest.fixture(name="host")
def fixture_host(tmp_path, monkeypatch):
    """A host whose /proc/sys has ip_forward=0 and the bridge settings, with overlay loaded."""
    root = tmp_path / "root"
    for path, value in {"proc/sys/net/ipv4/ip_forward": "0\n",
                        "proc/sys/net/bridge/bridge-nf-call-iptables": "1\n"}.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(value)
    (root / "sys/module/overlay").mkdir(parents=True)
    monkeypatch.setattr(kernel_settings, "ROOT", str(root))
    return root


def run(monkeypatch, capsys, check=False, diff=False, **args):
    """The module's JSON answer, as Ansible would read it (ansible-core 2.19's argument channel, else the older one)."""
    args = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
    try:
        from ansible.module_utils.testing import patch_module_args
    except ImportError:  # before ansible-core 2.19
        monkeypatch.setattr(basic, "_ANSIBLE_ARGS", to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args})))
        patch_module_args = None
    if patch_module_args:
        with patch_module_args(args), pytest.raises(SystemExit):
            kernel_settings.main()
    else:
        with pytest.raises(SystemExit):
            kernel_settings.main()
    return json.loads(capsys.readouterr().out)


def settings(tmp_path):
    return {"modules": ["br_netfilter", "overlay"], "module_presence_paths": {"br_netfilter": "/proc/sys/net/bridge"},
            "modules_load_file": str(tmp_path / "etc/modules-load.d/k8s.conf"),
            "modules_load_content": "br_netfilter\noverlay\n",
            "sysctl": {"net.ipv4.ip_forward": 1, "net.bridge.bridge-nf-call-iptables": 1},
            "sysctl_file": str(tmp_path / "etc/sysctl.d/90-k8s.conf")}


def test_a_run_sets_what_differs_writes_both_files_0644_and_the_next_run_changes_nothing(host, tmp_path,
                                                                                         monkeypatch, capsys):
    os.umask(0o077)  # the files' mode does not depend on the umask
    try:
        first = run(monkeypatch, capsys, diff=True, **settings(tmp_path))
    finally:
        os.umask(0o022)
    assert first["changed"] and first["modules_loaded"] == []
    assert first["parameters_set"] == {"net.ipv4.ip_forward": "1"}
    assert (host / "proc/sys/net/ipv4/ip_forward").read_text() == "1"
    sysctl_file = tmp_path / "etc/sysctl.d/90-k8s.conf"
    assert sysctl_file.read_text() == "net.ipv4.ip_forward=1\nnet.bridge.bridge-nf-call-iptables=1\n"
    assert stat.S_IMODE(sysctl_file.stat().st_mode) == 0o644
    assert [entry["after_header"] for entry in first["diff"]] == [settings(tmp_path)["modules_load_file"],
                                                                  str(sysctl_file)]
    again = run(monkeypatch, capsys, **settings(tmp_path))
    assert not again["changed"] and again["files_changed"] == [] and again["parameters_set"] == {}


def test_check_mode_reports_and_touches_nothing(host, tmp_path, monkeypatch, capsys):
    result = run(monkeypatch, capsys, check=True, **settings(tmp_path))
    assert result["changed"]
    assert result["parameters_set"] == {"net.ipv4.ip_forward": "1"}
    assert sorted(result["files_changed"]) == sorted([settings(tmp_path)["modules_load_file"],
                                                      settings(tmp_path)["sysctl_file"]])
    assert (host / "proc/sys/net/ipv4/ip_forward").read_text() == "0\n"
    assert not (tmp_path / "etc").exists()


def test_a_file_with_another_mode_is_put_back(host, tmp_path, monkeypatch, capsys):
    run(monkeypatch, capsys, **settings(tmp_path))
    sysctl_file = tmp_path / "etc/sysctl.d/90-k8s.conf"
    sysctl_file.chmod(0o600)
    result = run(monkeypatch, capsys, **settings(tmp_path))
    assert result["changed"] and result["files_changed"] == [str(sysctl_file)]
    assert stat.S_IMODE(sysctl_file.stat().st_mode) == 0o644


def test_an_unknown_parameter_fails_with_its_name_and_the_fix(host, tmp_path, monkeypatch, capsys):
    result = run(monkeypatch, capsys, sysctl={"net.ipv4.no_such_thing": 1})
    assert result["failed"]
    assert "net.ipv4.no_such_thing does not exist on this host" in result["msg"]
    assert "leave it out" in result["msg"]


def test_a_module_that_does_not_load_fails_with_modprobe_s_words(host, tmp_path, monkeypatch, capsys):
    def modprobe(self, argv, **kwargs):
        return 1, "", f"modprobe: FATAL: Module {argv[-1]} not found in directory /lib/modules/6.1.0\n"

    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, required=False: "/sbin/modprobe")
    monkeypatch.setattr(basic.AnsibleModule, "run_command", modprobe)
    result = run(monkeypatch, capsys, modules=["ip_vs"])
    assert result["failed"]
    assert "cannot load the kernel module ip_vs" in result["msg"] and "not found in directory" in result["msg"]


def test_in_check_mode_a_parameter_a_pending_module_brings_is_not_an_error(host, tmp_path, monkeypatch, capsys):
    result = run(monkeypatch, capsys, check=True, modules=["ip_vs"], sysctl={"net.ipv4.vs.conntrack": 1})
    assert not result.get("failed") and result["changed"]
    assert result["modules_loaded"] == ["ip_vs"]
