# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of corral.cluster.artifact_fetch: the module's work, done in the controller's own process.

The artifacts live on the controller, whichever host the task runs for: no module is started (and no
pinned-sums table of 150 KB templated into its arguments), the table is read from O(checksums_file)."""

from __future__ import annotations

from typing import Any

import yaml

from ansible.errors import AnsibleActionFail

from ansible_collections.corral.cluster.plugins.module_utils import artifacts as lib
from ansible_collections.corral.cluster.plugins.modules.artifact_fetch import ARGUMENT_SPEC, run
from ansible_collections.corral.cluster.plugins.plugin_utils._controller_action import ControllerAction

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def pinned_sums(args: dict[str, Any]) -> dict[str, Any]:
    """The pinned table: O(checksums), or read from O(checksums_file)."""
    if not args.get("checksums_file"):
        return args["checksums"]
    try:
        with open(args["checksums_file"], encoding="utf-8") as handle:
            table = yaml.load(handle, Loader=LOADER)  # nosec: a safe loader
    except (OSError, yaml.YAMLError) as error:
        raise AnsibleActionFail(f"artifact_fetch: cannot read checksums_file: {error}") from error
    if not isinstance(table, dict):
        raise AnsibleActionFail(f"artifact_fetch: {args['checksums_file']} holds no table of sums "
                                "(name -> arch -> version -> sha256:<hex>)")
    return {**table, **args["checksums"]}


class ActionModule(ControllerAction):
    """Plan, fetch and verify the artifacts on the controller."""

    ARGUMENT_SPEC = ARGUMENT_SPEC

    def work(self, args: dict[str, Any]) -> dict[str, Any]:
        try:
            return run({**args, "checksums": pinned_sums(args)}, self._task.check_mode)
        except lib.ArtifactError as error:
            return {"failed": True, "msg": str(error)}
