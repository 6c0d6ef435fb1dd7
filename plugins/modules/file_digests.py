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
  - A file whose C(mode), C(owner) or C(group) is given and differs is listed too.
  - Reads only; never changes the host.
options:
  files:
    description:
      - The files to check, each C({path, sha256}) (hex, with or without C(sha256:)), optionally with
        C(mode) (octal string such as V("0600")), C(owner) and C(group) (names).
    type: list
    elements: dict
    required: true
  directories:
    description:
      - Directories to check, each C({path}) optionally with C(mode), C(owner) and C(group) as for O(files).
    type: list
    elements: dict
    default: []
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
directories_differ:
  description: Directories of O(directories) that are missing, not directories, or whose mode, owner or group differs.
  returned: always
  type: list
  elements: str
missing_parents:
  description: Those of the paths in RV(differ) whose directory does not exist (yet).
  returned: always
  type: list
  elements: str
"""

import grp
import hashlib
import os
import pwd
import stat

from ansible.module_utils.basic import AnsibleModule


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _name(lookup, number: int) -> str:
    try:
        return lookup(number)[0]
    except KeyError:  # an id without a name
        return str(number)


def attributes_differ(path: str, item: dict) -> bool:
    """Whether the mode, owner or group the entry asks for (when it does) differs from the file's."""
    info = os.stat(path)
    if item.get("mode") is not None and stat.S_IMODE(info.st_mode) != int(str(item["mode"]), 8):
        return True
    if item.get("owner") is not None and _name(pwd.getpwuid, info.st_uid) != str(item["owner"]):
        return True
    return item.get("group") is not None and _name(grp.getgrgid, info.st_gid) != str(item["group"])


def differing(files: list) -> list:
    out = []
    for item in files:
        path = str(item["path"])
        expected = str(item["sha256"]).lower()
        if expected.startswith("sha256:"):  # str.removeprefix needs Python 3.9
            expected = expected[len("sha256:"):]
        if not os.path.isfile(path) or sha256_of(path) != expected or attributes_differ(path, item):
            out.append(path)
    return out


def directories_differing(directories: list) -> list:
    return [str(item["path"]) for item in directories
            if not os.path.isdir(str(item["path"])) or attributes_differ(str(item["path"]), item)]


def main() -> None:
    module = AnsibleModule(argument_spec={"files": {"type": "list", "elements": "dict", "required": True},
                                          "directories": {"type": "list", "elements": "dict", "default": []}},
                           supports_check_mode=True)
    for option, required in (("files", {"path", "sha256"}), ("directories", {"path"})):
        for item in module.params[option]:
            if not required <= set(item):
                module.fail_json(msg=f"{option}: every entry needs {' and '.join(sorted(required))}, got {item!r}")
            if item.get("mode") is not None and not _is_octal_mode(item["mode"]):
                module.fail_json(msg=f"{option}: the mode of {item['path']} must be an octal string such as "
                                     f"\"0600\", got {item['mode']!r}")
    differ = differing(module.params["files"])
    module.exit_json(changed=False, differ=differ,
                     directories_differ=directories_differing(module.params["directories"]),
                     missing_parents=[path for path in differ if not os.path.isdir(os.path.dirname(path))])


def _is_octal_mode(mode) -> bool:
    return isinstance(mode, str) and len(mode) in (3, 4) and all(char in "01234567" for char in mode)


if __name__ == "__main__":
    main()
