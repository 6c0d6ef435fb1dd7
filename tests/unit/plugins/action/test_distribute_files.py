"""distribute_files: one file_digests call per host, copy only for what differs, secrets never in a diff."""

from __future__ import annotations

import hashlib
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

    def execute_module(module_name, module_args, task_vars):
        if module_name == "corral.cluster.file_digests":
            return compared
        return {"changed": True, "path": module_args["path"]}

    plugin._execute_module = MagicMock(side_effect=execute_module)
    plugin._remove_tmp_path = MagicMock()
    return plugin, copies


@pytest.fixture
def pki(tmp_path):
    (tmp_path / "ca.crt").write_text("CA")
    (tmp_path / "ca.key").write_text("KEY")
    return tmp_path


def test_one_comparison_and_copies_of_only_the_files_that_differ(pki):
    files = [{"dest": "/etc/k/ca.crt", "src": f"{pki}/ca.crt", "mode": "0644"},
             {"dest": "/etc/k/ca.key", "src": f"{pki}/ca.key", "mode": "0600"}]
    plugin, copies = action(files, differ=["/etc/k/ca.key"])
    result = plugin.run(task_vars={})
    plugin._execute_module.assert_called_once()
    compared = plugin._execute_module.call_args.kwargs["module_args"]["files"]
    assert plugin._execute_module.call_args.kwargs["module_args"]["directories"] == []
    sums = [hashlib.sha256(b"CA").hexdigest(), hashlib.sha256(b"KEY").hexdigest()]
    assert [item["sha256"] for item in compared] == sums
    assert copies == [{"dest": "/etc/k/ca.key", "src": f"{pki}/ca.key", "mode": "0600", "owner": "root",
                       "group": "root"}]
    assert result["changed"] is True and result["files"] == ["/etc/k/ca.key"]


def test_nothing_differs_nothing_is_copied(pki):
    plugin, copies = action([{"dest": "/etc/k/ca.crt", "src": f"{pki}/ca.crt", "mode": "0644"}])
    result = plugin.run(task_vars={})
    assert copies == [] and result["changed"] is False and result["files"] == []


def test_a_secret_never_shows_in_a_diff_a_certificate_does(pki):
    files = [{"dest": "/etc/k/ca.crt", "src": f"{pki}/ca.crt", "mode": "0644"},
             {"dest": "/etc/k/ca.key", "src": f"{pki}/ca.key", "mode": "0600"}]
    diff = {"before": "old", "after": "new"}
    plugin, _copies = action(files, differ=["/etc/k/ca.crt", "/etc/k/ca.key"],
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


def test_a_failed_copy_names_the_file(pki):
    plugin, _copies = action([{"dest": "/etc/k/ca.crt", "src": f"{pki}/ca.crt", "mode": "0644"}],
                             differ=["/etc/k/ca.crt"], copy_results={"/etc/k/ca.crt": {"failed": True, "msg": "ro fs"}})
    result = plugin.run(task_vars={})
    assert result["failed"] and result["msg"] == "distribute_files: copying /etc/k/ca.crt failed: ro fs"


def test_directories_are_compared_with_the_files_and_only_those_that_differ_are_made(pki):
    directories = [{"path": "/etc/k", "mode": "0700"}, {"path": "/var/lib/k/", "mode": "0755", "owner": "etcd"}]
    plugin, copies = action([], directories=directories, directories_differ=["/var/lib/k"])
    result = plugin.run(task_vars={})
    calls = [(call.kwargs["module_name"], call.kwargs["module_args"]) for call in plugin._execute_module.call_args_list]
    assert calls[1:] == [("ansible.legacy.file", {"path": "/var/lib/k", "mode": "0755", "owner": "etcd",
                                                  "group": "root", "state": "directory"})]
    assert result["changed"] is True and result["directories"] == ["/var/lib/k"] and copies == []


def test_a_file_that_says_it_is_no_secret_shows_in_a_diff_despite_its_mode(pki):
    diff = {"before": "cgroupDriver: cgroupfs", "after": "cgroupDriver: systemd"}
    files = [{"dest": "/var/lib/kubelet/config.yaml", "content": "cgroupDriver: systemd", "mode": "0600",
              "secret": False}]
    plugin, copies = action(files, differ=["/var/lib/kubelet/config.yaml"],
                            copy_results={"/var/lib/kubelet/config.yaml": {"changed": True, "diff": [diff]}})
    assert plugin.run(task_vars={})["diff"] == [diff]
    assert "secret" not in copies[0]
