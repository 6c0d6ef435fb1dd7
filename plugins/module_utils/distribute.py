# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan of corral.cluster.distribute_files: what each file should be, and its sum, on the controller.

Pure: the controller's files are summed through the injected ``digest``, so the plan is tested without
a host or an Ansible run."""

import hashlib
import posixpath
from typing import Any, Callable, Dict, List, Mapping, Optional

Entry = Dict[str, Any]


def _is_octal_mode(mode: Any) -> bool:
    return isinstance(mode, str) and len(mode) in (3, 4) and all(char in "01234567" for char in mode)


def plan_entries(files: Any) -> List[Entry]:
    """The entries of the task, checked: each names an absolute dest, one of src and content, a mode."""
    if not isinstance(files, list):
        raise ValueError(f"files must be a list of {{dest, src or content, mode}}, got {type(files).__name__}")
    entries, seen = [], set()
    for index, item in enumerate(files):
        if not isinstance(item, Mapping):
            raise ValueError(f"files[{index}] must be a dict with dest, src or content, and mode")
        dest = item.get("dest")
        if not isinstance(dest, str) or not posixpath.isabs(dest) or dest.endswith("/"):
            raise ValueError(f"files[{index}]: dest must be an absolute file path, got {dest!r}")
        if dest in seen:
            raise ValueError(f"files[{index}]: {dest} is listed twice")
        seen.add(dest)
        if sum(key in item for key in ("src", "content", "pending")) != 1:
            raise ValueError(f"files[{index}] ({dest}): give exactly one of src (a file on the controller) and content")
        if "src" in item and not (isinstance(item["src"], str) and posixpath.isabs(item["src"])):
            raise ValueError(f"files[{index}] ({dest}): src must be an absolute path on the controller, got {item['src']!r}")
        if not _is_octal_mode(item.get("mode")):
            raise ValueError(f"files[{index}] ({dest}): mode must be an octal string such as \"0600\", "
                             f"got {item.get('mode')!r}")
        secret = item.get("secret", not int(item["mode"], 8) & 0o077)
        if not isinstance(secret, bool):
            raise ValueError(f"files[{index}] ({dest}): secret must be true or false, got {secret!r}")
        services = item.get("services", [])
        services = [services] if isinstance(services, str) else services
        if not isinstance(services, list) or not all(isinstance(name, str) for name in services):
            raise ValueError(f"files[{index}] ({dest}): services must be a list of systemd service names, "
                             f"got {item.get('services')!r}")
        validate = item.get("validate")
        if validate is not None and not (isinstance(validate, str) and "%s" in validate):
            raise ValueError(f"files[{index}] ({dest}): validate must be a command with %s (the new file), "
                             f"got {validate!r}")
        entry = {"dest": dest, "mode": item["mode"], "owner": str(item.get("owner", "root")),
                 "group": str(item.get("group", "root")), "secret": secret, "services": [name for name in services if name]}
        if validate:
            entry["validate"] = validate
        if "src" in item:
            entry["src"] = item["src"]
            if item.get("sha256"):  # known (a verified artifact): the controller does not read the file again
                entry["sha256"] = str(item["sha256"]).lower().rsplit(":", maxsplit=1)[-1]
        elif "pending" in item:  # made from a controller file that does not exist yet (check mode)
            entry["pending"] = str(item["pending"])
        else:
            entry["content"] = str(item["content"])
        entries.append(entry)
    return entries


def plan_directories(directories: Any) -> List[Entry]:
    """The directories of the task, checked: absolute paths with a mode; owner and group default to root."""
    if not isinstance(directories, list):
        raise ValueError(f"directories must be a list of {{path, mode}}, got {type(directories).__name__}")
    planned = []
    for index, item in enumerate(directories):
        path = item.get("path") if isinstance(item, Mapping) else None
        if not isinstance(path, str) or not posixpath.isabs(path):
            raise ValueError(f"directories[{index}]: path must be an absolute path, got {path!r}")
        if not _is_octal_mode(item.get("mode")):
            raise ValueError(f"directories[{index}] ({path}): mode must be an octal string such as \"0700\", "
                             f"got {item.get('mode')!r}")
        planned.append({"path": path.rstrip("/") or "/", "mode": item["mode"], "owner": str(item.get("owner", "root")),
                        "group": str(item.get("group", "root"))})
    return planned


def wanted_digests(entries: List[Entry], digest: Callable[[str], Optional[str]]):
    """(what file_digests compares on the host, the dest of every entry whose source is missing here).

    ``digest(path)`` returns the controller file's sha256, or None when it does not exist. An entry with
    ``pending`` (the controller file it would be made from, not there yet) is missing too."""
    wanted, missing = [], []
    for entry in entries:
        if "content" in entry:
            sha256: Optional[str] = hashlib.sha256(entry["content"].encode("utf-8")).hexdigest()
        elif "pending" in entry:
            sha256 = None
        else:
            sha256 = entry.get("sha256") or digest(entry["src"])
        if sha256 is None:
            missing.append(entry["dest"])
            continue
        wanted.append({"path": entry["dest"], "sha256": sha256, "mode": entry["mode"],
                       "owner": entry["owner"], "group": entry["group"]})
    return wanted, missing


def services_of(entries: List[Entry], changed: List[str]) -> List[str]:
    """The services that read the changed files (each entry's ``services``), each once, in entry order."""
    out: List[str] = []
    for entry in entries:
        if entry["dest"] in changed:
            out.extend(name for name in entry["services"] if name not in out)
    return out


def file_sha256(path: str, chunk: int = 1 << 20) -> Optional[str]:
    """The controller's digest: the file's sha256, read in chunks (image archives are large), None when
    there is no such file."""
    sha256 = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(chunk), b""):
                sha256.update(block)
    except FileNotFoundError:
        return None
    return sha256.hexdigest()


def missing_sources(entries: List[Entry], missing: List[str]) -> List[str]:
    """The controller files behind the entries whose source is missing, for the error message."""
    return [entry.get("src") or entry.get("pending") or entry["dest"] for entry in entries if entry["dest"] in missing]
