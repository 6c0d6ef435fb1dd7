# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the work is done by the action plugin of the same name.

DOCUMENTATION = r"""
---
module: controller_file
short_description: Write a file on the controller when its content or mode differs, atomically
description:
  - Writes O(content) to O(path) on the controller with O(mode) when the file is missing, or its content or mode
    differs. The file is written beside O(path) with its mode already set, then renamed over it, so a credential
    is never readable by others, even for a moment, whatever the umask.
  - Runs in the controller's own process, whichever host the task is for; nothing runs on a host. For the
    cluster's state on the controller (the admin kubeconfig), whose directory M(corral.cluster.private_dirs)
    keeps private.
  - Never shows a diff (it is meant for credentials).
version_added: "0.2.0"
options:
  path:
    description: The file, absolute or under C(~). Its directory must exist.
    type: path
    required: true
  content:
    description: The text of the file.
    type: str
    required: true
  mode:
    description: Its mode, an octal string.
    type: str
    default: "0600"
extends_documentation_fragment:
  - action_common_attributes
  - corral.cluster.attributes
author:
  - corral.cluster maintainers (@corral)
"""

EXAMPLES = r"""
- name: Write the admin kubeconfig on the controller
  corral.cluster.controller_file:
    path: ~/.corral/lab/admin.conf
    content: "{{ kubeconfig }}"
  run_once: true
  no_log: true
"""

RETURN = r"""
path:
  description: The file, its C(~) expanded.
  returned: always
  type: str
  sample: /home/ops/.corral/lab/admin.conf
"""
