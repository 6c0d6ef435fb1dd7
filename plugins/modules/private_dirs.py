# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the work is done by the action plugin of the same name.

DOCUMENTATION = r"""
---
module: private_dirs
short_description: Make directories on the controller, or put them back, readable by nobody but their owner
description:
  - Makes each directory of O(paths) on the controller with mode V(0700), its missing parents too, and puts
    back the mode of one that exists. The modes are explicit, so the umask does not matter.
  - Runs in the controller's own process, whichever host the task is for; nothing runs on a host.
version_added: "0.2.0"
options:
  paths:
    description: The directories, absolute or under C(~).
    type: list
    elements: path
    required: true
extends_documentation_fragment:
  - action_common_attributes
  - corral.cluster.attributes
author:
  - corral.cluster maintainers (@corral)
"""

EXAMPLES = r"""
- name: Keep the cluster state private
  corral.cluster.private_dirs:
    paths: ["~/.corral/lab", "~/.corral/lab/backups/etcd"]
  run_once: true
"""

RETURN = r"""
directories:
  description: The directories made or whose mode was put back (in check mode, that would be), parents first.
  returned: always
  type: list
  elements: str
  sample: [/home/ops/.corral/lab]
"""
