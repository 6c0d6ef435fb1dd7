# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of corral.cluster.distribute_files: one comparison per host, copies only of what differs."""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
from typing import Any, Optional

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.corral.cluster.plugins.module_utils.distribute import (
    missing_sources,
    plan_directories,
    plan_entries,
    file_sha256,
    services_of,
    wanted_digests,
)

ARGUMENT_SPEC = {"files": {"type": "list", "elements": "dict", "default": []},
                 "directories": {"type": "list", "elements": "dict", "default": []},
                 "units": {"type": "list", "elements": "str", "default": []},
                 "read": {"type": "list", "elements": "path", "default": []},
                 "compared": {"type": "dict"}}
COPY_ARGS = ("dest", "mode", "owner", "group", "src", "content", "validate")  # not "secret" nor "services": ours
# A controller file larger than this is uploaded on its own (not copied into the tar first).
UPLOAD_ALONE = 1 << 20


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
            # A file_digests result the caller already has for these files (the artifacts role's): not asked again.
            compared = args["compared"] or self._execute_module(
                module_name="corral.cluster.file_digests",
                module_args={"files": wanted, "directories": directories, "units": args["units"], "read": args["read"]},
                task_vars=task_vars)
            if compared.get("failed"):
                return {**result, **compared}
            mending = [directory for directory in directories if directory["path"] in compared["directories_differ"]]
            differ = set(compared["differ"]) | set(missing)
            if self._task.check_mode:
                outcome = self._check(entries, mending, differ, set(missing) | set(compared["missing_parents"]),
                                      task_vars)
            else:
                sending = [entry for entry in entries if entry["dest"] in differ]
                outcome = self._send(sending, mending, task_vars) if sending or mending else {}
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        if outcome.get("failed"):
            return {**result, "failed": True, "msg": f"distribute_files: {outcome.get('msg', '')}"}
        changed, made = outcome.get("files", []), outcome.get("directories", [])
        result.update(changed=bool(changed or made), files=changed, directories=made,
                      services=services_of(entries, changed), units=compared.get("units", {}),
                      contents=compared.get("contents", {}))
        if outcome.get("diff"):
            result["diff"] = outcome["diff"]
        return result

    def _check(self, entries: list[dict[str, Any]], mending: list[dict[str, Any]], differ: set[str],
               unreachable: set[str], task_vars: dict[str, Any]) -> dict[str, Any]:
        """Check mode: what file and copy would do, and their diffs, without doing it. A file whose source the
        controller does not have yet, or whose directory is not there yet, is reported, not compared."""
        made, changed, diffs = [], [], []
        for directory in mending:
            done = self._execute_module(module_name="ansible.legacy.file",
                                        module_args={**directory, "state": "directory"}, task_vars=task_vars)
            if done.get("failed"):
                return {"failed": True, "msg": f"creating {directory['path']} failed: {done.get('msg', '')}"}
            if done.get("changed"):
                made.append(directory["path"])
                if done.get("diff"):
                    diffs.append(done["diff"])
        for entry in entries:
            if entry["dest"] not in differ:
                continue
            if entry["dest"] in unreachable:
                changed.append(entry["dest"])
                continue
            copied = self._copy(entry, task_vars)
            if copied.get("failed"):
                return {"failed": True, "msg": f"copying {entry['dest']} failed: {copied.get('msg', '')}"}
            if copied.get("changed"):
                changed.append(entry["dest"])
                # Keys and kubeconfigs (secret: by default, no access for group and others) never show.
                if copied.get("diff") and not entry["secret"]:
                    # copy returns a list of diffs (one per file it copied).
                    found = copied["diff"]
                    diffs.extend(found if isinstance(found, list) else [found])
        return {"directories": made, "files": changed, "diff": diffs}

    def _send(self, entries: list[dict[str, Any]], directories: list[dict[str, Any]],
              task_vars: dict[str, Any]) -> dict[str, Any]:
        """The directories to make or mend and every file that differs, in one module call: the small files
        (contents, certificates) in one tar, the large ones (binaries, image archives) uploaded as they are."""
        if self._connection._shell.tmpdir is None:
            self._make_tmp_path()
        tmpdir = self._connection._shell.tmpdir
        described, uploads = [], []
        with tempfile.TemporaryDirectory(prefix="corral-distribute-") as local_dir:  # 0700: keys pass through it
            local_tar = os.path.join(local_dir, "files.tar")
            with tarfile.open(local_tar, "w", dereference=True) as bundle:
                for index, entry in enumerate(entries):
                    item = {name: entry[name] for name in ("dest", "mode", "owner", "group", "validate")
                            if name in entry}
                    item["diff"] = not entry["secret"]
                    if "src" in entry and os.path.getsize(entry["src"]) > UPLOAD_ALONE:
                        item["diff"] = False  # too large to show
                        item["upload"] = self._connection._shell.join_path(tmpdir, f"file-{index}")
                        uploads.append((entry["src"], item["upload"]))
                    else:
                        item["member"] = str(index)
                        if "src" in entry:
                            bundle.add(entry["src"], arcname=item["member"], recursive=False)
                        else:
                            data = entry["content"].encode("utf-8")
                            info = tarfile.TarInfo(item["member"])
                            info.size, info.mode = len(data), 0o600
                            bundle.addfile(info, io.BytesIO(data))
                    described.append(item)
            remote_tar = self._connection._shell.join_path(tmpdir, "files.tar")
            self._transfer_file(local_tar, remote_tar)
            for local, remote in uploads:
                self._transfer_file(local, remote)
        self._fixup_perms2([tmpdir, remote_tar] + [remote for _local, remote in uploads])
        return self._execute_module(module_name="corral.cluster.unpack_files",
                                    module_args={"archive": remote_tar, "files": described,
                                                 "directories": directories}, task_vars=task_vars)

    def _copy(self, entry: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        """ansible.builtin.copy for one file, as the template action hands its result to copy."""
        copy_task = self._task.copy()
        copy_task.args = {name: entry[name] for name in COPY_ARGS if name in entry}
        copy_action = self._shared_loader_obj.action_loader.get(
            "ansible.legacy.copy", task=copy_task, connection=self._connection, play_context=self._play_context,
            loader=self._loader, templar=self._templar, shared_loader_obj=self._shared_loader_obj)
        return copy_action.run(task_vars=task_vars)
