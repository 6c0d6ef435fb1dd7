# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of corral.cluster.private_dirs: directories of the controller made or put back 0700,
in the controller's own process (no module to start, whichever host the task runs for)."""

from __future__ import annotations

import os
import stat
from typing import Any, Callable, Optional

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

ARGUMENT_SPEC = {"paths": {"type": "list", "elements": "path", "required": True}}
MODE = 0o700


def make_private(path: str, check_mode: bool, mkdir: Callable[[str, int], None] = os.mkdir,
                 chmod: Callable[[str, int], None] = os.chmod) -> list[str]:
    """The directories made or whose mode was put back to 0700: PATH and the missing parents made for it
    (explicit modes: the umask does not matter). Nothing is changed in check mode."""
    path = os.path.abspath(os.path.expanduser(path))
    missing = []
    current = path
    while not os.path.lexists(current):
        missing.append(current)
        current = os.path.dirname(current)
    if not os.path.isdir(current):
        raise AnsibleActionFail(f"private_dirs: {current} exists and is not a directory, so {path} cannot be made")
    changed = []
    if not missing and stat.S_IMODE(os.stat(path).st_mode) != MODE:
        changed.append(path)
        if not check_mode:
            chmod(path, MODE)
    for directory in reversed(missing):
        changed.append(directory)
        if not check_mode:
            mkdir(directory, MODE)
            chmod(directory, MODE)
    return changed


class ActionModule(ActionBase):
    """Make or put back private directories on the controller."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        _unused, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        changed: list[str] = []
        for path in args["paths"]:
            try:
                changed += make_private(path, self._task.check_mode)
            except OSError as error:
                raise AnsibleActionFail(f"private_dirs: cannot make {path} private: {error}") from error
        result.update(changed=bool(changed), directories=changed)
        return result
