# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of corral.cluster.controller_file: a file of the controller written when it differs, in the
controller's own process (no module to start, whichever host the task runs for)."""

from __future__ import annotations

import io
import os
import stat
from typing import Any

from ansible.errors import AnsibleActionFail

from ansible_collections.corral.cluster.plugins.module_utils._files import write_atomic
from ansible_collections.corral.cluster.plugins.plugin_utils._controller_action import ControllerAction

ARGUMENT_SPEC = {"path": {"type": "path", "required": True},
                 "content": {"type": "str", "required": True, "no_log": True},
                 "mode": {"type": "str", "default": "0600"}}


def differs(path: str, data: bytes, mode: int) -> bool:
    """Whether PATH is missing, or its content or mode is not DATA and MODE."""
    try:
        if stat.S_IMODE(os.stat(path).st_mode) != mode:
            return True
        with open(path, "rb") as handle:
            return handle.read() != data
    except FileNotFoundError:
        return True


class ActionModule(ControllerAction):
    """Write one file on the controller when it differs."""

    ARGUMENT_SPEC = ARGUMENT_SPEC

    def work(self, args: dict[str, Any]) -> dict[str, Any]:
        path = os.path.abspath(os.path.expanduser(args["path"]))
        try:
            mode = int(args["mode"], 8)
        except ValueError as error:
            raise AnsibleActionFail(f"controller_file: mode must be an octal string such as \"0600\", "
                                    f"got {args['mode']!r}") from error
        if not os.path.isdir(os.path.dirname(path)):
            raise AnsibleActionFail(f"controller_file: the directory of {path} does not exist")
        data = args["content"].encode("utf-8")
        changed = differs(path, data, mode)
        if changed and not self._task.check_mode:
            try:
                write_atomic(path, io.BytesIO(data), mode)
            except OSError as error:
                raise AnsibleActionFail(f"controller_file: cannot write {path}: {error}") from error
        return {"changed": changed, "path": path}
