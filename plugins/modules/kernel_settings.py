#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kernel modules and kernel parameters, now and at boot: one call per host."""

DOCUMENTATION = r"""
module: kernel_settings
short_description: Load kernel modules and set kernel parameters, now and at boot, in one call
version_added: 0.1.0
description:
  - Loads the kernel modules that are not active (C(modprobe)), sets the kernel parameters whose
    value differs (through C(/proc/sys), as C(sysctl -w) does) and writes the files that repeat
    both at boot (C(modules-load.d), C(sysctl.d)), in one call per host. A no-op run reads and
    changes nothing else.
  - A module counts as active when C(/sys/module/NAME) exists, or the path given for it in
    O(module_presence_paths) does (a module built into the kernel may have no C(/sys/module) entry).
  - The sysctl file holds exactly O(sysctl), one C(key=value) line per parameter in the given order;
    a parameter left out of O(sysctl) leaves the file (the kernel keeps its value until a reboot).
  - Supports check mode and diff mode (the two files).
options:
  modules:
    description: Kernel module names to load when they are not active, in this order.
    type: list
    elements: str
    default: []
  module_presence_paths:
    description: For some of O(modules), a path whose existence shows the module is active.
    type: dict
    default: {}
  modules_load_file:
    description: The C(modules-load.d) file that loads O(modules) at boot. Written with O(modules_load_content).
    type: path
  modules_load_content:
    description: The content of O(modules_load_file).
    type: str
  sysctl:
    description:
      - Kernel parameters (C(net.ipv4.ip_forward), or with slashes C(net/ipv4/ip_forward)) mapped to
        their values. Booleans and V(true)/V(yes)/V(on) are written V(1), V(false)/V(no)/V(off) V(0).
    type: dict
    default: {}
  sysctl_file:
    description: The C(sysctl.d) file that sets O(sysctl) at boot.
    type: path
notes:
  - The files are written 0644 root:root.
  - In check mode a parameter that does not exist yet is reported as to be set when a module is
    to be loaded (it may bring the parameter); otherwise the run fails as a real run would.
author:
  - corral.cluster maintainers (@corral)
"""

EXAMPLES = r"""
- name: Load br_netfilter and overlay, forward IPv4
  corral.cluster.kernel_settings:
    modules: [br_netfilter, overlay]
    module_presence_paths: {br_netfilter: /proc/sys/net/bridge}
    modules_load_file: /etc/modules-load.d/kubernetes.conf
    modules_load_content: "br_netfilter\noverlay\n"
    sysctl: {net.ipv4.ip_forward: 1}
    sysctl_file: /etc/sysctl.d/90-kubernetes.conf
"""

RETURN = r"""
modules_loaded:
  description: The modules loaded by this run (in check mode, that it would load).
  returned: always
  type: list
  elements: str
parameters_set:
  description: The parameters set by this run (in check mode, that it would set), with their new value.
  returned: always
  type: dict
files_changed:
  description: The files written by this run (in check mode, that it would write).
  returned: always
  type: list
  elements: str
"""

import io
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.corral.cluster.plugins.module_utils._files import make_directories, write_atomic
from ansible_collections.corral.cluster.plugins.module_utils.kernel import (modules_to_load, parameters_to_set,
                                                                            same_value, sysctl_file_content,
                                                                            sysctl_path)

FILE_MODE = "0644"
# Where /proc and /sys are read and written: the unit tests point it at a directory.
ROOT = ""


def read_text(path):
    try:
        with open(path, "r") as handle:
            return handle.read()
    except (IOError, OSError):  # missing, or not readable: as good as missing
        return None


def write_file(module, path, content):
    """Atomically, beside the file (the directory is made 0755 when missing)."""
    make_directories(os.path.dirname(path), 0o755)
    write_atomic(path, io.BytesIO(content.encode("utf-8")), int(FILE_MODE, 8), 0, 0)
    if module.selinux_enabled():
        module.set_context_if_different(path, module.selinux_default_context(path), False)


def converge_file(module, path, content, result):
    before = read_text(path)
    changed = before != content
    if changed:
        if not module.check_mode:
            write_file(module, path, content)
        result["files_changed"].append(path)
        result["diff"].append({"before_header": path, "after_header": path,
                               "before": before or "", "after": content})
    if os.path.exists(path):  # in check mode a new file is not there: its mode will be right
        attributes_changed = module.set_mode_if_different(path, FILE_MODE, False)
        attributes_changed = module.set_owner_if_different(path, "root", attributes_changed)
        attributes_changed = module.set_group_if_different(path, "root", attributes_changed)
        if attributes_changed and not changed:
            result["files_changed"].append(path)


def load_modules(module, names):
    if not names or module.check_mode:
        return
    modprobe = module.get_bin_path("modprobe", required=True)
    for name in names:
        rc, out, err = module.run_command([modprobe, name])
        if rc != 0:
            module.fail_json(msg=f"cannot load the kernel module {name} (modprobe exited {rc}: "
                                 f"{(err or out).strip()}): install what provides it on this host, or leave it out "
                                 f"of the modules to load")


def set_parameters(module, wanted, modules_pending):
    for key, value in wanted.items():
        path = ROOT + sysctl_path(key)
        if not os.path.exists(path):
            if module.check_mode and modules_pending:
                continue  # a module that a real run loads first may bring it
            module.fail_json(msg=f"the kernel parameter {key} does not exist on this host (no {path}): "
                                 f"check its name, load the module that provides it, or leave it out")
        if module.check_mode:
            continue
        try:
            with open(path, "w") as handle:
                handle.write(value)
        except (IOError, OSError) as error:
            module.fail_json(msg=f"cannot set the kernel parameter {key} to {value}: {error}")
        now = read_text(path)
        if not same_value(now, value):
            module.fail_json(msg=f"the kernel kept {key} = {(now or '').strip()} after {value} was written")


def main():
    module = AnsibleModule(
        argument_spec={"modules": {"type": "list", "elements": "str", "default": []},
                       "module_presence_paths": {"type": "dict", "default": {}},
                       "modules_load_file": {"type": "path"},
                       "modules_load_content": {"type": "str"},
                       "sysctl": {"type": "dict", "default": {}},
                       "sysctl_file": {"type": "path"}},
        required_together=[("modules_load_file", "modules_load_content")],
        supports_check_mode=True)
    params = module.params
    result = {"modules_loaded": [], "parameters_set": {}, "files_changed": [], "diff": []}

    result["modules_loaded"] = modules_to_load(params["modules"], params["module_presence_paths"],
                                               lambda path: os.path.exists(ROOT + path))
    load_modules(module, result["modules_loaded"])
    result["parameters_set"] = parameters_to_set(params["sysctl"], lambda path: read_text(ROOT + path))
    set_parameters(module, result["parameters_set"], bool(result["modules_loaded"]))

    if params["modules_load_file"]:
        converge_file(module, params["modules_load_file"], params["modules_load_content"], result)
    if params["sysctl_file"]:
        converge_file(module, params["sysctl_file"], sysctl_file_content(params["sysctl"]), result)

    changed = bool(result["modules_loaded"] or result["parameters_set"] or result["files_changed"])
    if not module._diff:
        del result["diff"]
    module.exit_json(changed=changed, **result)


if __name__ == "__main__":
    main()
