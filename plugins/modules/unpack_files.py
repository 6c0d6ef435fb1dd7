#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Put the files of one uploaded tar in place, each atomically: the second half of distribute_files."""

DOCUMENTATION = r"""
module: unpack_files
short_description: Put the files of an uploaded tar in place, each atomically, with its mode and owner
version_added: 0.2.0
description:
  - The host side of M(corral.cluster.distribute_files), which sends every file that differs in one tar
    instead of one copy per file. Not meant to be called on its own.
  - Member I(N) of the tar becomes the file O(files)[N], written beside its destination with its mode, owner
    and group already set, then renamed over it (a running binary is replaced, not overwritten).
  - The directories of O(directories) are made first (their missing parents too), or their mode, owner and
    group put back.
  - The archive and the uploaded files are removed afterwards.
options:
  archive:
    description: The tar on the host, whose members the entries of O(files) name (C(member)).
    type: path
  files:
    description:
      - The files to put in place, each C({dest, mode, owner, group}) with C(member), the name of its member in
        O(archive), or C(upload), a file uploaded on its own (large files are not copied into the tar).
      - C(diff) (V(true) or V(false)) says whether C(--diff) may show the file.
      - C(validate), a command with C(%s), is run on the written file before it replaces the destination, as
        M(ansible.builtin.copy)'s O(ansible.builtin.copy#module:validate) does; when it fails the destination is
        left as it was and the module fails with its output.
    type: list
    elements: dict
    default: []
  directories:
    description: Directories to make or mend first, each C({path, mode, owner, group}).
    type: list
    elements: dict
    default: []
notes:
  - Does not support check mode; M(corral.cluster.distribute_files) reports what it would copy instead.
author:
  - corral.cluster maintainers (@corral)
"""

EXAMPLES = r"""
- name: Never called directly (distribute_files uploads the archive, then calls it)
  corral.cluster.unpack_files:
    archive: /root/.ansible/tmp/ansible-tmp-1/files.tar
    files:
      - {dest: /etc/kubernetes/pki/ca.crt, mode: "0644", owner: root, group: root}
"""

RETURN = r"""
files:
  description: The destinations written, in order.
  returned: always
  type: list
  elements: str
directories:
  description: The directories made or mended, in order.
  returned: always
  type: list
  elements: str
"""

import grp
import os
import pwd
import tarfile
from shlex import quote as shlex_quote

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.corral.cluster.plugins.module_utils._files import make_directories, write_atomic

DIFF_LIMIT = 256 * 1024  # larger files are not shown with --diff, as the copy module does


def _old_text(path):
    try:
        if os.path.getsize(path) > DIFF_LIMIT:
            return None
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8")
    except (OSError, IOError):  # a new file
        return ""
    except UnicodeDecodeError:
        return None


def _ids(entry):
    return pwd.getpwnam(str(entry.get("owner") or "root")).pw_uid, grp.getgrnam(str(entry.get("group") or "root")).gr_gid


class ValidationFailed(Exception):
    """The entry's validate command refused the file: the destination is left as it was."""


def validator(module, command, dest):
    """A write_atomic hook that runs COMMAND (with %s, the written file) and raises when it fails."""
    if not command:
        return None

    def validate(path):
        rc, out, err = module.run_command(command.replace("%s", shlex_quote(path)), use_unsafe_shell=False)
        if rc != 0:
            raise ValidationFailed(f"{dest} not replaced: {command} refused the new file (rc={rc}): "
                                   f"{(err or out).strip()}")
    return validate


def put(module, source, entry):
    """Write the member beside its destination with the wanted mode and owner, validate it when asked, then
    rename it over the destination."""
    dest = entry["dest"]
    uid, gid = _ids(entry)
    write_atomic(dest, source, int(str(entry["mode"]), 8), uid, gid,
                 validate=validator(module, entry.get("validate"), dest))
    if module.selinux_enabled():
        module.set_context_if_different(dest, module.selinux_default_context(dest), False)


def make_directory(entry):
    """Whether the directory was made or its mode, owner or group put back. Missing parents are made
    with the same mode, owner and group, as ansible.builtin.file does."""
    path = entry["path"]
    uid, gid = _ids(entry)
    mode = int(str(entry["mode"]), 8)
    if make_directories(path, mode, uid, gid):
        return True
    info = os.stat(path)
    if (info.st_uid, info.st_gid) == (uid, gid) and (info.st_mode & 0o7777) == mode:
        return False
    os.chown(path, uid, gid)
    os.chmod(path, mode)
    return True


def main():
    module = AnsibleModule(argument_spec={"archive": {"type": "path"},
                                          "files": {"type": "list", "elements": "dict", "default": []},
                                          "directories": {"type": "list", "elements": "dict", "default": []}},
                           supports_check_mode=False)
    archive, files = module.params["archive"], module.params["files"]
    written, made, diffs = [], [], []
    bundle = None
    try:
        for entry in module.params["directories"]:
            if make_directory(entry):
                made.append(entry["path"])
        if archive:
            bundle = tarfile.open(archive, "r:")
        for entry in files:
            if "upload" in entry:
                source = open(entry["upload"], "rb")
            else:
                source = bundle.extractfile(entry["member"]) if bundle else None
                if source is None:
                    module.fail_json(msg=f"unpack_files: no file {entry.get('member')!r} in the archive for {entry['dest']}")
            with source:
                before = _old_text(entry["dest"]) if module._diff and entry.get("diff") else None
                put(module, source, entry)
            written.append(entry["dest"])
            if before is not None:
                after = _old_text(entry["dest"])
                if after is not None:
                    diffs.append({"before_header": entry["dest"], "after_header": entry["dest"],
                                  "before": before, "after": after})
    except ValidationFailed as error:
        module.fail_json(msg=f"unpack_files: {error}", files=written)
    except (OSError, IOError, KeyError, tarfile.TarError) as error:
        module.fail_json(msg=f"unpack_files: cannot put {len(files)} files in place "
                             f"(after {len(written)}: {', '.join(written) or 'none'}): {error}", files=written)
    finally:
        if bundle is not None:
            bundle.close()
        for path in [archive] + [entry["upload"] for entry in files if "upload" in entry]:
            if path and os.path.exists(path):
                os.unlink(path)
    result = {"changed": bool(written or made), "files": written, "directories": made}
    if diffs:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
