# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the work is done by the action plugin of the same name.

DOCUMENTATION = r"""
---
module: distribute_files
short_description: Put directories and files from the controller on a host, comparing them all in one call
description:
  - Compares every directory and file with what the controller wants (sha256, mode, owner, group) in one
    call of M(corral.cluster.file_digests) on the host, then makes, with M(ansible.builtin.file), the
    directories that are missing or differ, and copies, with M(ansible.builtin.copy), only the files that
    are missing or differ. A no-op run costs one module call per host, not one per file.
  - Changed when any file was copied; notifies its handlers once.
  - In check mode a file whose source the controller does not have yet (a certificate the PKI would
    issue), or whose directory an earlier task would create, is reported as changed and not copied.
  - With C(--diff), the differences of secret files are never shown; a file is secret when its C(secret) says
    so, by default when group and others cannot read it (keys, kubeconfigs).
  - A directory made or mended counts as a change, and so notifies the task's handlers, as a copied file does.
version_added: "0.2.0"
options:
  files:
    description:
      - The files, each C({dest, src, mode, owner, group}) or C({dest, content, mode, owner, group}).
      - C(dest), the absolute path on the host; C(src), an absolute path on the controller; C(content), the text
        of the file; C(mode), an octal string such as V("0600"); C(owner) and C(group) default to V(root).
      - C(secret) (V(true) or V(false)), whether C(--diff) must not show the file; by default V(true) when
        C(mode) gives group and others no access.
      - C(services), the systemd services that read the file (a name or a list). Those of the files copied
        are returned in RV(services), for the caller to restart (the C(service) entry point of
        C(corral.cluster.common) reads them).
      - C(validate), a command with C(%s) that must accept the new file before it replaces C(dest), as
        M(ansible.builtin.copy)'s O(ansible.builtin.copy#module:validate) (for example V(haproxy -c -f %s)).
    type: list
    elements: dict
    default: []
  directories:
    description:
      - Directories made before the files, each C({path, mode, owner, group}); C(owner) and C(group) default to
        V(root).
    type: list
    elements: dict
    default: []
  units:
    description:
      - systemd services whose state the same call reports in RV(units), for the caller to start only those
        that are not running (the C(service) entry point of C(corral.cluster.common) reads it).
    type: list
    elements: str
    default: []
  read:
    description:
      - Text files (up to 8 MiB) whose text the same call returns in RV(contents), read before anything is
        copied, for the caller's later tasks to decide from (see M(corral.cluster.file_digests)).
    type: list
    elements: path
    default: []
  compared:
    description:
      - The registered result of a M(corral.cluster.file_digests) call on the host for these files (C(differ),
        C(directories_differ), C(missing_parents)), which the caller already has; the files are not compared
        again (the artifacts role compares its binaries first, to know which services run a replaced one).
    type: dict
extends_documentation_fragment:
  - action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: partial
    details: Not for secret files (by default those that group and others cannot read, such as keys).
  platform:
    platforms: posix
author:
  - corral.cluster maintainers (@corral)
"""

EXAMPLES = r"""
- name: Copy the node's certificates and keys
  corral.cluster.distribute_files:
    directories:
      - {path: /etc/kubernetes/pki, mode: "0700"}
    files:
      - {dest: /etc/kubernetes/pki/ca.crt, src: /srv/pki/ca.crt, mode: "0644"}
      - {dest: /etc/kubernetes/pki/kubelet.key, src: /srv/pki/kubelet.key, mode: "0600"}
  notify: Restart kubelet
"""

RETURN = r"""
files:
  description: The destinations copied (in check mode, that would be copied), in input order.
  returned: always
  type: list
  elements: str
  sample: [/etc/kubernetes/pki/kubelet.crt]
services:
  description: The C(services) of the files copied (in check mode, that would be copied), each once, in input order.
  returned: always
  type: list
  elements: str
  sample: [kubelet]
units:
  description:
    - For each unit of O(units), its state before this task (C(LoadState), C(ActiveState), C(UnitFileState),
      C(ConditionResult), C(ConditionTimestampMonotonic); see M(corral.cluster.file_digests)).
  returned: always
  type: dict
  sample: {kubelet: {LoadState: loaded, ActiveState: active, UnitFileState: enabled}}
contents:
  description: For each path of O(read), its text before this task, or V(null) when there is no such file.
  returned: always
  type: dict
  sample: {/etc/hostname: "node1\n"}
directories:
  description: The directories made or mended (in check mode, that would be), in input order.
  returned: always
  type: list
  elements: str
  sample: [/etc/kubernetes/pki]
"""
