"""distribute_files: one file_digests call per host; what differs goes in one upload and one unpack_files call
(in check mode, copy reports it); secrets never in a diff."""

from __future__ import annotations

import grp
import hashlib
import json
import os
import pwd
import shutil
import stat
from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.corral.cluster.plugins.action.distribute_files import ActionModule


def action(files, check_mode=False, differ=(), missing_parents=(), copy_results=None, directories=(),
           directories_differ=()):
    task = MagicMock(args={"files": files, "directories": list(directories)}, async_val=0, check_mode=check_mode,
                     diff=True)
    task.copy.side_effect = lambda: MagicMock(args={})
    copies = []

    def copy_action(_name, task, **_kwargs):
        copies.append(dict(task.args))
        runner = MagicMock()
        runner.run.return_value = (copy_results or {}).get(task.args["dest"], {"changed": True})
        return runner

    loader = MagicMock()
    loader.action_loader.get.side_effect = copy_action
    plugin = ActionModule(task, MagicMock(), MagicMock(), loader=None, templar=None)
    plugin._shared_loader_obj = loader  # ansible-core 2.19 ignores the constructor's argument
    compared = {"differ": list(differ), "missing_parents": list(missing_parents),
                "directories_differ": list(directories_differ)}

    sent = []

    def execute_module(module_name, module_args, task_vars):
        if module_name == "corral.cluster.file_digests":
            return compared
        if module_name == "corral.cluster.unpack_files":
            sent.append(module_args)
            return {"changed": True, "files": [item["dest"] for item in module_args["files"]],
                    "directories": [item["path"] for item in module_args["directories"]]}
        return {"changed": True, "path": module_args["path"]}

    plugin._execute_module = MagicMock(side_effect=execute_module)
    plugin._remove_tmp_path = MagicMock()
    plugin._transfer_file = MagicMock()
    plugin._fixup_perms2 = MagicMock()
    plugin._connection._shell.tmpdir = "/remote/tmp"
    plugin._connection._shell.join_path = os.path.join
    plugin.sent = sent
    return plugin, copies


def real_unpack(monkeypatch, capsys, compared):
    """An _execute_module that answers file_digests with COMPARED and runs the real unpack_files module."""
    from ansible.module_utils import basic
    from ansible_collections.corral.cluster.plugins.modules import unpack_files

    def execute_module(module_name, module_args, task_vars):
        if module_name != "corral.cluster.unpack_files":
            return compared
        args = dict(module_args, _ansible_diff=True)
        try:
            from ansible.module_utils.testing import patch_module_args
        except ImportError:  # before ansible-core 2.19
            monkeypatch.setattr(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode())
            with pytest.raises(SystemExit):
                unpack_files.main()
        else:
            with patch_module_args(args), pytest.raises(SystemExit):
                unpack_files.main()
        return json.loads(capsys.readouterr().out)
    return execute_module


@pytest.fixture
def pki(tmp_path):
    (tmp_path / "ca.crt").write_text("CA")
    (tmp_path / "ca.key").write_text("KEY")
    return tmp_path


def test_one_comparison_and_one_upload_of_only_the_files_that_differ(pki):
    files = [{"dest": "/etc/k/ca.crt", "src": f"{pki}/ca.crt", "mode": "0644"},
             {"dest": "/etc/k/ca.key", "src": f"{pki}/ca.key", "mode": "0600", "services": ["kubelet"]}]
    plugin, copies = action(files, differ=["/etc/k/ca.key"])
    result = plugin.run(task_vars={})
    compared = plugin._execute_module.call_args_list[0].kwargs["module_args"]
    assert compared["directories"] == []
    sums = [hashlib.sha256(b"CA").hexdigest(), hashlib.sha256(b"KEY").hexdigest()]
    assert [item["sha256"] for item in compared["files"]] == sums
    assert copies == []  # no copy per file: one tar, one module call
    assert plugin.sent == [{"archive": "/remote/tmp/files.tar", "directories": [],
                            "files": [{"dest": "/etc/k/ca.key", "mode": "0600", "owner": "root", "group": "root",
                                       "diff": False, "member": "0"}]}]
    assert plugin._transfer_file.call_count == 1
    assert result["changed"] is True and result["files"] == ["/etc/k/ca.key"] and result["services"] == ["kubelet"]


def test_the_upload_and_unpack_files_put_every_file_in_place_with_its_mode_owner_and_diff(pki, tmp_path, monkeypatch,
                                                                                          capsys):
    """The action's tar and uploads, handed to the real unpack_files module: the files land, atomically,
    with their modes; a large file travels on its own; only what is no secret shows in the diff."""
    from ansible_collections.corral.cluster.plugins.action import distribute_files as action_module

    monkeypatch.setattr(action_module, "UPLOAD_ALONE", 4)
    owner, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    host, remote = tmp_path / "host", tmp_path / "remote"
    (host / "etc").mkdir(parents=True)
    remote.mkdir()
    (host / "etc" / "config.yaml").write_text("old: 1\n")
    (pki / "kubelet").write_bytes(b"ELF binary")
    files = [{"dest": f"{host}/etc/config.yaml", "content": "new: 2\n", "mode": "0600", "secret": False,
              "owner": owner, "group": group},
             {"dest": f"{host}/etc/pki/ca.key", "src": f"{pki}/ca.key", "mode": "0600", "owner": owner, "group": group},
             {"dest": f"{host}/bin/kubelet", "src": f"{pki}/kubelet", "mode": "0755", "owner": owner, "group": group}]
    directories = [{"path": f"{host}/etc/pki", "mode": "0700", "owner": owner, "group": group},
                   {"path": f"{host}/bin", "mode": "0755", "owner": owner, "group": group}]
    plugin, _copies = action(files, differ=[entry["dest"] for entry in files], directories=directories,
                             directories_differ=[entry["path"] for entry in directories])
    plugin._connection._shell.tmpdir = str(remote)
    plugin._transfer_file.side_effect = shutil.copyfile

    plugin._execute_module.side_effect = real_unpack(monkeypatch, capsys, {
        "differ": [entry["dest"] for entry in files], "missing_parents": [],
        "directories_differ": [entry["path"] for entry in directories]})
    result = plugin.run(task_vars={})
    assert not result.get("failed"), result
    assert (host / "etc" / "config.yaml").read_text() == "new: 2\n"
    assert (host / "etc" / "pki" / "ca.key").read_text() == "KEY"
    assert (host / "bin" / "kubelet").read_bytes() == b"ELF binary"
    assert {name: stat.S_IMODE((host / name).stat().st_mode) for name in ("etc/config.yaml", "etc/pki/ca.key",
                                                                          "bin/kubelet", "etc/pki", "bin")} == {
        "etc/config.yaml": 0o600, "etc/pki/ca.key": 0o600, "bin/kubelet": 0o755, "etc/pki": 0o700, "bin": 0o755}
    assert result["directories"] == [f"{host}/etc/pki", f"{host}/bin"]
    assert result["diff"] == [{"before_header": f"{host}/etc/config.yaml", "after_header": f"{host}/etc/config.yaml",
                               "before": "old: 1\n", "after": "new: 2\n"}]
    assert list(remote.iterdir()) == []  # the tar and the binary uploaded on its own are removed
    assert [call.args[1] for call in plugin._transfer_file.call_args_list] == [f"{remote}/files.tar",
                                                                               f"{remote}/file-2"]


def test_nothing_differs_nothing_is_copied(pki):
    plugin, copies = action([{"dest": "/etc/k/ca.crt", "src": f"{pki}/ca.crt", "mode": "0644"}])
    result = plugin.run(task_vars={})
    assert copies == [] and result["changed"] is False and result["files"] == []


def test_a_secret_never_shows_in_a_diff_a_certificate_does(pki):
    files = [{"dest": "/etc/k/ca.crt", "src": f"{pki}/ca.crt", "mode": "0644"},
             {"dest": "/etc/k/ca.key", "src": f"{pki}/ca.key", "mode": "0600"}]
    diff = {"before": "old", "after": "new"}
    plugin, _copies = action(files, check_mode=True, differ=["/etc/k/ca.crt", "/etc/k/ca.key"],
                             copy_results={"/etc/k/ca.crt": {"changed": True, "diff": diff},
                                           "/etc/k/ca.key": {"changed": True, "diff": {"after": "KEY"}}})
    assert plugin.run(task_vars={})["diff"] == [diff]


def test_check_mode_reports_what_the_pki_would_issue_and_skips_missing_directories(pki):
    files = [{"dest": "/etc/k/new.crt", "src": f"{pki}/new.crt", "mode": "0644"},
             {"dest": "/etc/new/ca.crt", "src": f"{pki}/ca.crt", "mode": "0644"},
             {"dest": "/etc/k/kubelet.conf", "pending": f"{pki}/kubelet.key", "mode": "0600"}]
    plugin, copies = action(files, check_mode=True, differ=["/etc/new/ca.crt"], missing_parents=["/etc/new/ca.crt"])
    result = plugin.run(task_vars={})
    assert copies == []
    assert result["changed"] is True
    assert result["files"] == ["/etc/k/new.crt", "/etc/new/ca.crt", "/etc/k/kubelet.conf"]


def test_a_missing_source_outside_check_mode_is_refused_by_name(pki):
    plugin, _copies = action([{"dest": "/etc/k/kubelet.conf", "pending": f"{pki}/kubelet.key", "mode": "0600"}])
    with pytest.raises(AnsibleActionFail, match=r"not on the controller: .*/kubelet\.key \(the pki role issues"):
        plugin.run(task_vars={})


def test_a_failed_copy_in_check_mode_names_the_file(pki):
    plugin, _copies = action([{"dest": "/etc/k/ca.crt", "src": f"{pki}/ca.crt", "mode": "0644"}], check_mode=True,
                             differ=["/etc/k/ca.crt"], copy_results={"/etc/k/ca.crt": {"failed": True, "msg": "ro fs"}})
    result = plugin.run(task_vars={})
    assert result["failed"] and result["msg"] == "distribute_files: copying /etc/k/ca.crt failed: ro fs"


def test_directories_are_compared_with_the_files_and_only_those_that_differ_are_made(pki):
    directories = [{"path": "/etc/k", "mode": "0700"}, {"path": "/var/lib/k/", "mode": "0755", "owner": "etcd"}]
    plugin, copies = action([], directories=directories, directories_differ=["/var/lib/k"])
    result = plugin.run(task_vars={})
    assert plugin.sent[0]["directories"] == [{"path": "/var/lib/k", "mode": "0755", "owner": "etcd", "group": "root"}]
    assert result["changed"] is True and result["directories"] == ["/var/lib/k"] and copies == []
    # In check mode ansible.builtin.file says what it would do.
    plugin, copies = action([], check_mode=True, directories=directories, directories_differ=["/var/lib/k"])
    plugin.run(task_vars={})
    calls = [(call.kwargs["module_name"], call.kwargs["module_args"]) for call in plugin._execute_module.call_args_list]
    assert calls[1:] == [("ansible.legacy.file", {"path": "/var/lib/k", "mode": "0755", "owner": "etcd",
                                                  "group": "root", "state": "directory"})]


def test_a_file_that_says_it_is_no_secret_shows_in_a_diff_despite_its_mode(pki):
    diff = {"before": "cgroupDriver: cgroupfs", "after": "cgroupDriver: systemd"}
    files = [{"dest": "/var/lib/kubelet/config.yaml", "content": "cgroupDriver: systemd", "mode": "0600",
              "secret": False}]
    plugin, copies = action(files, check_mode=True, differ=["/var/lib/kubelet/config.yaml"],
                            copy_results={"/var/lib/kubelet/config.yaml": {"changed": True, "diff": [diff]}})
    assert plugin.run(task_vars={})["diff"] == [diff]
    assert "secret" not in copies[0]


@pytest.mark.parametrize("content, accepted", [("global\n  maxconn 100\n", True), ("globl\n", False)])
def test_a_file_with_validate_replaces_its_destination_only_when_the_command_accepts_it(
        tmp_path, monkeypatch, capsys, content, accepted):
    """haproxy -c -f %s in the node role: here grep stands for the checker. A refused file leaves the
    running configuration as it was, and no temporary file beside it."""
    owner, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    remote, conf = tmp_path / "remote", tmp_path / "haproxy.cfg"
    remote.mkdir()
    conf.write_text("global\n")
    files = [{"dest": str(conf), "content": content, "mode": "0644", "owner": owner, "group": group,
              "validate": "grep -q ^global %s"}]
    plugin, _copies = action(files, differ=[str(conf)])
    plugin._connection._shell.tmpdir = str(remote)
    plugin._transfer_file.side_effect = shutil.copyfile
    plugin._execute_module.side_effect = real_unpack(monkeypatch, capsys, {
        "differ": [str(conf)], "missing_parents": [], "directories_differ": []})
    result = plugin.run(task_vars={})
    assert conf.read_text() == (content if accepted else "global\n")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["haproxy.cfg", "remote"]
    if accepted:
        assert result["changed"] is True and result["files"] == [str(conf)]
    else:
        assert result["failed"] is True
        assert f"{conf} not replaced: grep -q ^global %s refused the new file (rc=1)" in result["msg"]


def test_validate_is_passed_to_copy_in_check_mode_and_must_name_the_file(pki):
    files = [{"dest": "/etc/haproxy/haproxy.cfg", "content": "global\n", "mode": "0644",
              "validate": "haproxy -c -f %s"}]
    plugin, copies = action(files, check_mode=True, differ=["/etc/haproxy/haproxy.cfg"])
    plugin.run(task_vars={})
    assert copies[0]["validate"] == "haproxy -c -f %s"
    plugin, _copies = action([dict(files[0], validate="haproxy -c")])
    with pytest.raises(AnsibleActionFail, match=r"validate must be a command with %s"):
        plugin.run(task_vars={})


def test_a_comparison_the_caller_has_is_not_made_again(pki):
    files = [{"dest": "/usr/local/bin/kubelet", "src": f"{pki}/ca.crt", "mode": "0755", "sha256": "ab" * 32},
             {"dest": "/usr/local/bin/kube-proxy", "src": f"{pki}/ca.key", "mode": "0755", "sha256": "cd" * 32}]
    plugin, _copies = action(files)
    plugin._task.args["compared"] = {"differ": ["/usr/local/bin/kubelet"], "directories_differ": [],
                                     "missing_parents": [], "restart": ["kubelet"]}
    result = plugin.run(task_vars={})
    assert [call.kwargs["module_name"] for call in plugin._execute_module.call_args_list] == [
        "corral.cluster.unpack_files"]
    assert result["files"] == ["/usr/local/bin/kubelet"]
