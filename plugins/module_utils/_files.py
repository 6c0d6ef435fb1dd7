# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Directories and files written with explicit modes, whatever the umask: the PKI on the controller,
the controller's private directories, and the hosts' files of distribute_files and kernel_settings.

Python 3.6 (the EL 8 hosts): no walrus, no builtin generics."""

import os
import tempfile
from typing import Callable, List, Optional

CHUNK = 1 << 20


def missing_directories(path: str) -> List[str]:
    """The directories that do not exist yet on the way to PATH (PATH included), parents first."""
    missing = []
    current = path
    while not os.path.lexists(current):
        missing.append(current)
        current = os.path.dirname(current)
    return list(reversed(missing))


def make_directories(path: str, mode: int, uid: Optional[int] = None, gid: Optional[int] = None) -> List[str]:
    """Make PATH and its missing parents, each with MODE (and UID and GID when given), as
    ansible.builtin.file does; mkdir -p would leave the parents to the umask. The ones made, parents first."""
    made = missing_directories(path)
    for directory in made:
        try:
            os.mkdir(directory, mode)
        except FileExistsError:  # made meanwhile by someone else: its mode is put back below all the same
            pass
        if uid is not None:
            os.chown(directory, uid, -1 if gid is None else gid)
        os.chmod(directory, mode)
    return made


def write_atomic(path: str, source, mode: int, uid: Optional[int] = None, gid: Optional[int] = None,
                 validate: Optional[Callable[[str], None]] = None) -> None:
    """Write the file-like SOURCE beside PATH, give it MODE (and UID and GID when given), then rename it
    over PATH. mkstemp creates the file 0600, so a key is never readable by others, even for a moment;
    a running binary is replaced, not overwritten. VALIDATE, when given, is called with the written file's
    path before the rename: what it raises leaves PATH as it was."""
    descriptor, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix="." + os.path.basename(path) + ".")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            for block in iter(lambda: source.read(CHUNK), b""):
                handle.write(block)
            handle.flush()
            if uid is not None:
                os.fchown(handle.fileno(), uid, -1 if gid is None else gid)
            os.fchmod(handle.fileno(), mode)
        if validate is not None:
            validate(temporary)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
