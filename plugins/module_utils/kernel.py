# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan of corral.cluster.kernel_settings: which kernel modules to load and which kernel
parameters to set, and the sysctl.d file that sets them at boot.

Pure: the host is read through the injected ``exists`` and ``read`` (Python 3.6: the EL 8 hosts)."""

from typing import Callable, Dict, List, Mapping, Optional, Sequence

TRUE_WORDS = ("true", "yes", "on")
FALSE_WORDS = ("false", "no", "off")


def sysctl_value(value) -> str:
    """A value as sysctl(8) writes it: booleans (true, yes, on ...) as 1 or 0, the rest as text."""
    if isinstance(value, bool):
        return "1" if value else "0"
    text = str(value).strip()
    if text.lower() in TRUE_WORDS:
        return "1"
    if text.lower() in FALSE_WORDS:
        return "0"
    return text


def sysctl_path(key: str) -> str:
    """/proc/sys path of a parameter: dots separate the levels, unless the name uses slashes (as in
    sysctl(8), where net/ipv4/conf/eth0.100/forwarding keeps the dot of the interface name)."""
    return "/proc/sys/" + (key.strip("/") if "/" in key else key.replace(".", "/"))


def sysctl_file_content(settings: Mapping) -> str:
    """The sysctl.d file: one key=value line per parameter, in the given order."""
    return "".join(f"{key}={sysctl_value(value)}\n" for key, value in settings.items())


def same_value(current: Optional[str], wanted: str) -> bool:
    """Whether the kernel's value is the wanted one (multi-field values compared field by field)."""
    return current is not None and current.split() == wanted.split()


def modules_to_load(modules: Sequence[str], presence_paths: Mapping, exists: Callable[[str], bool]) -> List[str]:
    """The modules that are not active: no /sys/module/NAME, nor the path given for a built-in one."""
    return [name for name in modules
            if not exists(f"/sys/module/{name}")
            and not (presence_paths.get(name) and exists(str(presence_paths[name])))]


def parameters_to_set(settings: Mapping, read: Callable[[str], Optional[str]]) -> Dict[str, str]:
    """{key: value} of the parameters whose current value differs. ``read(path)`` returns the
    content of the /proc/sys file, or None when the parameter does not exist."""
    out = {}
    for key, value in settings.items():
        wanted = sysctl_value(value)
        if not same_value(read(sysctl_path(str(key))), wanted):
            out[str(key)] = wanted
    return out
