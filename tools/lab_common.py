"""What the lab's tools share: where things are kept, logging, commands, files.

tools/lab.py (the CLI and the nodes), tools/lab_artifacts.py (the artifact sets) and
tools/lab_gobuild.py (Go module builds) all import from here and from nowhere else of ours
above them, so no module of tools/ imports another that imports it back.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("CORRAL_LAB_STATE", ROOT / ".lab"))
# Kept across labs and checkouts: the node image recipe's build, the Go builds and the mirror.
CACHE = Path(os.environ.get("CORRAL_LAB_CACHE", Path.home() / ".cache" / "corral-lab"))
MIRROR = CACHE / "artifacts"

# The registry name of the lab's own images: no registry is reachable, so images come from
# archives the lab builds, named as if this registry (a mirror, cluster_image_registry) held them.
LAB_REGISTRY = "corral.test"

# tar options that make an archive's bytes depend only on its content.
REPRODUCIBLE_TAR = ("--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0")


def log(msg: str) -> None:
    print(f"\033[1m==> {msg}\033[0m", file=sys.stderr, flush=True)


def run(*cmd: str, check: bool = True, capture: bool = False, stdin: str | None = None,
        cwd: Path | None = None, env: dict | None = None) -> str:
    result = subprocess.run(
        cmd, check=False, text=True, input=stdin, cwd=cwd, env=env,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None,
    )
    if check and result.returncode != 0:
        detail = (result.stderr or "").strip()
        raise SystemExit(f"command failed ({result.returncode}): {shlex.join(cmd)}\n{detail}")
    return (result.stdout or "").strip()


def docker(*args: str, check: bool = True, capture: bool = True, stdin: str | None = None) -> str:
    return run("docker", *args, check=check, capture=capture, stdin=stdin)


@contextlib.contextmanager
def locked(path: Path):
    """Hold an exclusive lock on path (created if missing) for the with block: several sessions
    sharing this machine's cache build one thing once, one after the other."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, from its first byte (it may hold secrets)."""
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        handle.write(text)
    path.chmod(0o600)  # a file that existed before keeps its mode otherwise


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def debian_mirror() -> str:
    """The Debian mirror this machine already uses, so the lab needs no other address."""
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:") and "security" not in line:
                return line.split()[1]
    return "http://deb.debian.org/debian"


def debootstrap_image(image: str, packages: list[str], suite: str, changes: list[str],
                      customize: Callable[[Path], None] | None = None) -> None:
    """A minimal Debian (`suite`) with `packages`, customized in its root and imported as `image`."""
    log(f"Building the image {image} with debootstrap (about a minute)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="corral-lab-rootfs-") as rootfs:
        root = Path(rootfs)
        run("debootstrap", "--variant=minbase", f"--include={','.join(packages)}",
            suite, rootfs, debian_mirror(), capture=True)
        if customize:
            customize(root)
        (root / "etc/machine-id").write_text("")
        shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
        (root / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", *(arg for change in changes for arg in ("-c", change)), "-", image],
                       stdin=tar.stdout, check=True, stdout=subprocess.DEVNULL)
        tar.wait()
    log(f"Built {image} in {time.monotonic() - started:.0f} s")


def ensure_packages(packages: dict[str, Path]) -> None:
    """Install the Debian packages (name -> a file it provides) whose file is missing."""
    missing = [name for name, path in packages.items() if not path.exists()]
    if missing:
        log(f"Installing {' '.join(missing)}")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
                       check=True, env=env, stdout=subprocess.DEVNULL)


def download(url: str, dest: Path) -> Path:
    if not dest.exists():
        log(f"Downloading {url}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_suffix(dest.suffix + ".part")
        with urllib.request.urlopen(url, timeout=120) as response, partial.open("wb") as out:
            shutil.copyfileobj(response, out)
        partial.rename(dest)
    return dest


def reproducible_tar(directory: Path, member: str, dest: Path) -> None:
    """A gzipped tarball of directory/member whose bytes depend only on its content."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tar = subprocess.Popen(
        ["tar", "-C", str(directory), *REPRODUCIBLE_TAR, "-cf", "-", member], stdout=subprocess.PIPE)
    with dest.open("wb") as out:
        subprocess.run(["gzip", "-9n"], stdin=tar.stdout, stdout=out, check=True)
    if tar.wait() != 0:
        raise SystemExit(f"tar of {directory}/{member} failed")


def image_archive(rootfs: Path, image: str, changes: list[str], dest: Path) -> None:
    """A docker archive (`docker load`, `ctr images import`) of a one-layer image."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tar = subprocess.Popen(["tar", "-C", str(rootfs), *REPRODUCIBLE_TAR, "-cf", "-", "."], stdout=subprocess.PIPE)
    args = [arg for change in changes for arg in ("-c", change)]
    subprocess.run(["docker", "import", *args, "-", image], stdin=tar.stdout, check=True,
                   stdout=subprocess.DEVNULL)
    tar.wait()
    docker("save", "-o", str(dest), image)
    dest.chmod(0o644)
