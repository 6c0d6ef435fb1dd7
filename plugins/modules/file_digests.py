#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which of the given files are missing or differ from their sha256: one call per host."""

DOCUMENTATION = r"""
module: file_digests
short_description: Tell which files on the host are missing or differ from a sha256
version_added: 0.1.0
description:
  - Compares files on the host with the sha256 sums the controller knows, in one call, so that
    only the files that need it are copied (the artifacts role copies nothing when all match).
  - Reads only; never changes the host.
options:
  files:
    description: The files to check, each C({path, sha256}) (hex, with or without C(sha256:)).
    type: list
    elements: dict
    required: true
author:
  - corral.cluster maintainers (@corral)
"""

EXAMPLES = r"""
- name: Find the binaries that need installing
  corral.cluster.file_digests:
    files:
      - {path: /usr/local/bin/kubelet, sha256: "sha256:6971b9f9..."}
  register: digests
"""

RETURN = r"""
differ:
  description: Paths that are missing, not regular files, or whose sha256 differs, in input order.
  returned: always
  type: list
  elements: str
"""

import hashlib
import os

from ansible.module_utils.basic import AnsibleModule


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def differing(files: list) -> list:
    out = []
    for item in files:
        path = str(item["path"])
        expected = str(item["sha256"]).lower()
        if expected.startswith("sha256:"):  # str.removeprefix needs Python 3.9
            expected = expected[len("sha256:"):]
        if not os.path.isfile(path) or sha256_of(path) != expected:
            out.append(path)
    return out


def main() -> None:
    module = AnsibleModule(argument_spec={"files": {"type": "list", "elements": "dict", "required": True}},
                           supports_check_mode=True)
    for item in module.params["files"]:
        if not {"path", "sha256"} <= set(item):
            module.fail_json(msg=f"files: every entry needs path and sha256, got {item!r}")
    module.exit_json(changed=False, differ=differing(module.params["files"]))


if __name__ == "__main__":
    main()
