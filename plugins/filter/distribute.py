# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The file lists that corral.cluster.distribute_files puts on hosts: certificates, kubeconfigs and other files
of the controller (image archives); and the preflight's check of a renewal on request."""

from __future__ import annotations

import datetime
import posixpath
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ansible.plugins.filter.core import to_nice_yaml

from ansible_collections.corral.cluster.plugins.filter.kubernetes import kubeconfig
from ansible_collections.corral.cluster.plugins.module_utils.pki import (
    host_files,
    host_kubeconfigs,
    kubeconfig_user,
    renewal_time,
)


def pki_files(items: Iterable[Mapping[str, Any]], pki_dir: str, dest_dir: str = "") -> list[dict[str, Any]]:
    """Files of the controller's PKI for one host: each item {src, mode[, name, dest, owner, group, services]}, src
    relative to pki_dir, dest by default dest_dir/name (the name on the host, pki_host_files'), else dest_dir/src."""
    files = []
    for item in items:
        entry = {"src": posixpath.join(str(Path(pki_dir).expanduser()), item["src"]),
                 "dest": item.get("dest") or posixpath.join(dest_dir, item.get("name") or item["src"]),
                 "mode": item["mode"]}
        entry.update({name: item[name] for name in ("owner", "group", "services") if item.get(name)})
        files.append(entry)
    return files


def controller_files(paths: Iterable[str], dest_dir: str, mode: str) -> list[dict[str, Any]]:
    """Files of the controller (absolute paths) into one directory of the host, each under its own name."""
    return [{"src": str(path), "dest": posixpath.join(dest_dir, posixpath.basename(str(path))), "mode": mode}
            for path in paths]


def kubeconfig_files(items: Iterable[Mapping[str, Any]], cluster_name: str, server: str, pki_dir: str,
                     dest_dir: str = "") -> list[dict[str, Any]]:
    """Kubeconfigs for one host, 0600: each item {file or dest, cert[, user, server, services]}; the user is by
    default the certificate's (the PKI plan's). A kubeconfig whose certificate or key the PKI has not issued yet
    (check mode on a new cluster) is `pending` on that key."""
    files = []
    for item in items:
        dest = item.get("dest") or posixpath.join(dest_dir, item["file"])
        needed = [Path(pki_dir).expanduser() / name for name in ("ca.crt", f"{item['cert']}.crt", f"{item['cert']}.key")]
        absent = [str(path) for path in needed if not path.is_file()]
        if absent:
            entry: dict[str, Any] = {"dest": dest, "pending": absent[0], "mode": "0600"}
        else:
            config = kubeconfig(item.get("user") or kubeconfig_user(item["cert"]), cluster_name,
                                item.get("server") or server, pki_dir, item["cert"])
            entry = {"dest": dest, "content": to_nice_yaml(config, indent=2), "mode": "0600"}
        if item.get("services"):
            entry["services"] = item["services"]
        files.append(entry)
    return files


def pki_renewal_problem(text: str) -> str:
    """Why pki_renew_issued_before is refused ("" when it is not): checked by the preflight."""
    try:
        renewal_time(text, datetime.datetime.now(datetime.timezone.utc))
    except ValueError as error:
        return f"pki_renew_issued_before: {error}."
    return ""


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"pki_files": pki_files, "controller_files": controller_files, "kubeconfig_files": kubeconfig_files,
                "pki_renewal_problem": pki_renewal_problem,
                # The PKI plan's placement (module_utils/_pki_plan.py): a reader's files and kubeconfigs on a
                # host, for pki_files and kubeconfig_files; a client certificate's user.
                "pki_host_files": host_files, "pki_kubeconfigs": host_kubeconfigs, "pki_user": kubeconfig_user}
