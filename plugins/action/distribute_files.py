# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of corral.cluster.distribute_files: one comparison per host, copies only of what differs."""

from __future__ import annotations

from typing import Any, Optional

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.corral.cluster.plugins.module_utils.distribute import (
    missing_sources,
    plan_directories,
    plan_entries,
    file_sha256,
    wanted_digests,
)

ARGUMENT_SPEC = {"files": {"type": "list", "elements": "dict", "default": []},
                 "directories": {"type": "list", "elements": "dict", "default": []}}
COPY_ARGS = ("dest", "mode", "owner", "group", "src", "content")  # not "secret": ours


class ActionModule(ActionBase):
    """Compare every file with the controller's version in one module call; copy those that differ."""

    # The copy action makes its own temporary directory when a file differs: none is made (and
    # removed again) on a run where nothing does.
    TRANSFERS_FILES = False

    def run(self, tmp: Any = None, task_vars: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _unused, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            entries = plan_entries(args["files"])
            directories = plan_directories(args["directories"])
        except ValueError as error:
            raise AnsibleActionFail(f"distribute_files: {error}") from error
        wanted, missing = wanted_digests(entries, file_sha256)
        # In check mode the PKI may only have said what it would issue: such a file would be copied.
        if missing and not self._task.check_mode:
            raise AnsibleActionFail(
                "distribute_files: not on the controller: " + ", ".join(missing_sources(entries, missing))
                + " (the pki role issues certificates and keys: run the whole playbook, not a later stage alone)")
        try:
            compared = self._execute_module(module_name="corral.cluster.file_digests",
                                            module_args={"files": wanted, "directories": directories},
                                            task_vars=task_vars)
            if compared.get("failed"):
                return {**result, **compared}
            made, diffs = [], []
            for directory in directories:
                if directory["path"] not in compared["directories_differ"]:
                    continue
                done = self._execute_module(module_name="ansible.legacy.file",
                                            module_args={**directory, "state": "directory"}, task_vars=task_vars)
                if done.get("failed"):
                    return {**result, "failed": True,
                            "msg": f"distribute_files: creating {directory['path']} failed: {done.get('msg', '')}"}
                if done.get("changed"):
                    made.append(directory["path"])
                    if done.get("diff"):
                        diffs.append(done["diff"])
            differ = set(compared["differ"]) | set(missing)
            # In check mode a directory is not made: nothing to compare or copy into there.
            unreachable = set(missing) | (set(compared["missing_parents"]) if self._task.check_mode else set())
            changed = []
            for entry in entries:
                if entry["dest"] not in differ:
                    continue
                if entry["dest"] in unreachable:
                    changed.append(entry["dest"])
                    continue
                copied = self._copy(entry, task_vars)
                if copied.get("failed"):
                    return {**result, "failed": True,
                            "msg": f"distribute_files: copying {entry['dest']} failed: {copied.get('msg', '')}"}
                if copied.get("changed"):
                    changed.append(entry["dest"])
                    # Keys and kubeconfigs (secret: by default, no access for group and others) never show.
                    if copied.get("diff") and not entry["secret"]:
                        # copy returns a list of diffs (one per file it copied).
                        found = copied["diff"]
                        diffs.extend(found if isinstance(found, list) else [found])
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        result.update(changed=bool(changed or made), files=changed, directories=made)
        if diffs:
            result["diff"] = diffs
        return result

    def _copy(self, entry: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        """ansible.builtin.copy for one file, as the template action hands its result to copy."""
        copy_task = self._task.copy()
        copy_task.args = {name: entry[name] for name in COPY_ARGS if name in entry}
        copy_action = self._shared_loader_obj.action_loader.get(
            "ansible.legacy.copy", task=copy_task, connection=self._connection, play_context=self._play_context,
            loader=self._loader, templar=self._templar, shared_loader_obj=self._shared_loader_obj)
        return copy_action.run(task_vars=task_vars)
