# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of corral.cluster.private_dirs: directories of the controller made or put back 0700,
in the controller's own process (no module to start, whichever host the task runs for)."""

from __future__ import annotations

import os
import stat
from typing import Any

from ansible.errors import AnsibleActionFail

from ansible_collections.corral.cluster.plugins.module_utils._files import make_directories, missing_directories
from ansible_collections.corral.cluster.plugins.plugin_utils._controller_action import ControllerAction

ARGUMENT_SPEC = {"paths": {"type": "list", "elements": "path", "required": True}}
MODE = 0o700


def make_private(path: str, check_mode: bool) -> list[str]:
    """The directories made or whose mode was put back to 0700: PATH and the missing parents made for it
    (explicit modes: the umask does not matter). Nothing is changed in check mode."""
    path = os.path.abspath(os.path.expanduser(path))
    missing = missing_directories(path)
    existing = os.path.dirname(missing[0]) if missing else path
    if not os.path.isdir(existing):
        raise AnsibleActionFail(f"private_dirs: {existing} exists and is not a directory, so {path} cannot be made")
    if missing:
        return missing if check_mode else make_directories(path, MODE)
    if stat.S_IMODE(os.stat(path).st_mode) == MODE:
        return []
    if not check_mode:
        os.chmod(path, MODE)
    return [path]


class ActionModule(ControllerAction):
    """Make or put back private directories on the controller."""

    ARGUMENT_SPEC = ARGUMENT_SPEC

    def work(self, args: dict[str, Any]) -> dict[str, Any]:
        changed: list[str] = []
        for path in args["paths"]:
            try:
                changed += make_private(path, self._task.check_mode)
            except OSError as error:
                raise AnsibleActionFail(f"private_dirs: cannot make {path} private: {error}") from error
        return {"changed": bool(changed), "directories": changed}
