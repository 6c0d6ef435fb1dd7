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
  units:
    description:
      - systemd services whose state to report in RV(units) (one C(systemctl show) for all), so that a
        caller starts only those not running.
    type: list
    elements: str
    default: []
  read:
    description:
      - Text files (up to 8 MiB, such as C(/etc/hosts) or C(/proc/swaps)) whose text to return in
        RV(contents), so that a role decides from one call which of its tasks have something to do.
    type: list
    elements: path
    default: []
  services:
    description:
      - systemd services, each unit name mapped to the binary its main process runs. A running
        service is listed in RV(restart) when that binary is in RV(differ) (about to be replaced) or
        has been replaced since the service started (a run that was stopped before its restarts).
    type: dict
    default: {}
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
compared:
  description: Every path of O(files), in input order (what this host was checked for; shown with C(-v)).
  returned: always
  type: list
  elements: str
missing_parents:
  description: Those of the paths in RV(differ) whose directory does not exist (yet).
  returned: always
  type: list
  elements: str
units:
  description:
    - For each unit of O(units), its C(LoadState), C(ActiveState), C(UnitFileState), C(ConditionResult) and
      C(ConditionTimestampMonotonic) as systemd reports them (C({}) when systemd does not answer).
  returned: always
  type: dict
  sample: {kubelet: {LoadState: loaded, ActiveState: active, UnitFileState: enabled, ConditionResult: "yes"}}
contents:
  description: For each path of O(read), its text, or V(null) when there is no such file.
  returned: always
  type: dict
  sample: {/etc/hostname: "node1\n", /etc/fstab: null}
restart:
  description:
    - The units of O(services) that run and whose binary differs or was replaced after they started,
      in input order.
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


def unit_properties(run_command, units: list, properties: list) -> dict:
    """{unit: {property: value}} from one `systemctl show` ({} for a unit systemd did not answer for).
    systemctl prints a block of properties per unit, blank-line separated, in its own order."""
    if not units:
        return {}
    rc, out, _err = run_command(["systemctl", "show", "--property=" + ",".join(["Id", *properties]), "--", *units])
    found = {}
    for block in out.split("\n\n") if rc == 0 else []:
        values = dict(line.partition("=")[::2] for line in block.splitlines() if "=" in line)
        unit_id = values.pop("Id", "")
        if unit_id.endswith(".service"):
            unit_id = unit_id[:-len(".service")]
        found[unit_id] = values
    return {unit: found.get(unit, {}) for unit in units}


# What a caller decides from: whether the unit exists, runs, is enabled, and whether systemd skipped its last
# start because a start condition failed (ConditionResult "no" with a ConditionTimestampMonotonic).
UNIT_PROPERTIES = ["LoadState", "ActiveState", "UnitFileState", "ConditionResult", "ConditionTimestampMonotonic"]
# Beyond any /etc/fstab or /proc/swaps, and above the blocklists some hosts keep in /etc/hosts.
READ_LIMIT = 8 << 20


def read_texts(paths: list, limit: int = READ_LIMIT) -> dict:
    """{path: its text, or None when there is no such file}. Read, not sized: /proc files say 0 bytes."""
    out = {}
    for path in map(str, paths):
        try:
            with open(path, "rb") as handle:
                data = handle.read(limit + 1)
        except FileNotFoundError:
            out[path] = None
            continue
        if len(data) > limit:
            raise ValueError(f"{path} is larger than {limit // 1024} KiB: read is for text files up to that size")
        out[path] = data.decode("utf-8", errors="replace")
    return out


def main_pids(run_command, units: list) -> dict:
    """{unit: main PID} (0 for a unit that is not running or not there)."""
    return {unit: int(values.get("MainPID") or 0)
            for unit, values in unit_properties(run_command, units, ["MainPID"]).items()}


def restarting(services: dict, differ: list, pids: dict, readlink=os.readlink) -> list:
    """The units that run their binary while it differs from the sum (it is about to be replaced)
    or after it was replaced (the kernel names the running file "PATH (deleted)")."""
    out = []
    for unit, path in services.items():
        unit, path, pid = str(unit), str(path), pids.get(str(unit), 0)
        if not pid:
            continue
        try:
            exe = readlink(f"/proc/{pid}/exe")
        except OSError:  # gone since systemctl answered
            continue
        deleted = exe.endswith(" (deleted)")
        if deleted:
            exe = exe[:-len(" (deleted)")]
        if exe == path and (deleted or path in differ):
            out.append(unit)
    return out


def main() -> None:
    module = AnsibleModule(argument_spec={"files": {"type": "list", "elements": "dict", "required": True},
                                          "directories": {"type": "list", "elements": "dict", "default": []},
                                          "services": {"type": "dict", "default": {}},
                                          "units": {"type": "list", "elements": "str", "default": []},
                                          "read": {"type": "list", "elements": "path", "default": []}},
                           supports_check_mode=True)
    for option, required in (("files", {"path", "sha256"}), ("directories", {"path"})):
        for item in module.params[option]:
            if not required <= set(item):
                module.fail_json(msg=f"{option}: every entry needs {' and '.join(sorted(required))}, got {item!r}")
            if item.get("mode") is not None and not _is_octal_mode(item["mode"]):
                module.fail_json(msg=f"{option}: the mode of {item['path']} must be an octal string such as "
                                     f"\"0600\", got {item['mode']!r}")
    try:
        contents = read_texts(module.params["read"])
    except (OSError, ValueError) as error:
        module.fail_json(msg=f"file_digests: cannot read: {error}")
    differ = differing(module.params["files"])
    services = module.params["services"]
    pids = main_pids(module.run_command, [str(unit) for unit in services])
    module.exit_json(changed=False, differ=differ, restart=restarting(services, differ, pids),
                     units=unit_properties(module.run_command, module.params["units"], UNIT_PROPERTIES),
                     contents=contents,
                     directories_differ=directories_differing(module.params["directories"]),
                     missing_parents=[path for path in differ if not os.path.isdir(os.path.dirname(path))],
                     compared=[str(item["path"]) for item in module.params["files"]])


def _is_octal_mode(mode) -> bool:
    return isinstance(mode, str) and len(mode) in (3, 4) and all(char in "01234567" for char in mode)


if __name__ == "__main__":
    main()
