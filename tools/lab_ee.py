"""The execution environment of execution-environment.yml, built on this machine without a registry.

  tools/ee build            the base image, the wheelhouse, the collection's tarball, then the
                            image (ansible-builder 3, offline: pip reads only the wheelhouse)
  tools/ee run --inventory FILE|DIR [--network NET] [--mount PATH] PLAYBOOK [ansible-playbook args]
                            a playbook of the collection through ansible-runner in that image,
                            as AWX runs a job template

The base image is Debian (`SUITE`) with the packages of EE_PACKAGES, from Debian's packages like
the lab's node image; its tag carries the recipe's hash, so it is built once.
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lab_common import CACHE, ROOT, debootstrap_image, docker, log, run

SUITE = "bookworm"
# What ansible-builder's scripts need (python3 with pip and venv; Debian disables ensurepip) and what Ansible needs to reach
# hosts (ssh); bindep finds openssh-client installed and installs nothing.
EE_PACKAGES = ["python3", "python3-pip", "python3-venv", "ca-certificates", "openssh-client"]
EE_FILE = ROOT / "execution-environment.yml"
EE_DIR = ROOT / "ee"
# ansible-builder's venv and the wheelhouse live in the lab's cache, keyed by their pins: every
# checkout (a fresh CI clone too) reuses them.
BUILDER_VENVS = CACHE / "ee-builder"
WHEELHOUSES = CACHE / "ee-wheels"
BUILDER_REQUIREMENTS = ROOT / "tests" / "requirements-ee.txt"
# Packages ansible-builder's own stages install besides the EE's dependencies.
BUILDER_STAGE_PACKAGES = ["bindep", "pyyaml", "packaging", "dumb-init==1.2.5", "setuptools", "wheel"]
IMAGE = "corral-ee"


def base_image() -> str:
    digest = hashlib.sha256(json.dumps([SUITE, EE_PACKAGES]).encode()).hexdigest()[:12]
    return f"corral-ee-base:{SUITE}-{digest}"


def ensure_base() -> str:
    image = base_image()
    if not docker("images", "-q", image):
        debootstrap_image(image, EE_PACKAGES, SUITE, ['CMD ["bash"]'])
    return image


def builder_venv() -> Path:
    """ansible-builder and ansible-runner in a venv of their own, one per set of pins."""
    venv = BUILDER_VENVS / hashlib.sha256(BUILDER_REQUIREMENTS.read_bytes()).hexdigest()[:16]
    if not (venv / ".complete").exists():
        shutil.rmtree(venv, ignore_errors=True)
        run(sys.executable, "-m", "venv", str(venv))
        run(str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
            "-r", str(BUILDER_REQUIREMENTS))
        (venv / ".complete").touch()
    return venv / "bin"


def ee_requirements() -> list[str]:
    """Every pip requirement the image installs: the EE file's pins and the builder's own."""
    import yaml  # the controller venv has it; imported here so that `--help` needs nothing

    deps = yaml.safe_load(EE_FILE.read_text())["dependencies"]
    pins = [deps["ansible_core"]["package_pip"], deps["ansible_runner"]["package_pip"]]
    collection = yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text())["dependencies"]
    lines = [line for path in ("ee/requirements.txt", collection["python"]) for line in (ROOT / path).read_text().splitlines()]
    return pins + [line for line in lines if line.strip() and not line.startswith("#")] + BUILDER_STAGE_PACKAGES


def fill_wheelhouse() -> None:
    """ee/wheels: a wheel for every requirement and its dependencies, from a wheelhouse per set of pins."""
    wanted = ee_requirements()
    cached = WHEELHOUSES / hashlib.sha256("\n".join(wanted).encode()).hexdigest()[:16]
    if not (cached / ".complete").exists():
        log(f"Filling the EE wheelhouse {cached} from PyPI")
        shutil.rmtree(cached, ignore_errors=True)
        cached.mkdir(parents=True)
        # The base image's Python is Debian bookworm's 3.11, as is this machine's: wheels built here fit.
        run(sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "-w", str(cached), *wanted)
        (cached / ".complete").touch()
    wheels = EE_DIR / "wheels"
    have = {path.name for path in wheels.glob("*.whl")}
    want = {path.name for path in cached.glob("*.whl")}
    for name in have - want:
        (wheels / name).unlink()
    for name in want - have:
        shutil.copy2(cached / name, wheels / name)


def build_collection() -> None:
    dist = EE_DIR / "dist"
    with tempfile.TemporaryDirectory() as out:
        run("ansible-galaxy", "collection", "build", "--force", "--output-path", out, str(ROOT), capture=True)
        (tarball,) = Path(out).glob("corral-cluster-*.tar.gz")
        shutil.copy2(tarball, dist / "corral-cluster.tar.gz")


def build(tag: str) -> str:
    bin_dir = builder_venv()
    base = ensure_base()
    fill_wheelhouse()
    build_collection()
    started = time.monotonic()
    context = CACHE / "ee-context"
    run(str(bin_dir / "ansible-builder"), "build", "--file", str(EE_FILE), "--context", str(context),
        "--container-runtime", "docker", "--tag", tag, "--build-arg", f"EE_BASE_IMAGE={base}",
        "--build-arg", "CORRAL_EE_OFFLINE=1", "--verbosity", "1", capture=True)
    log(f"Built the execution environment {tag} in {time.monotonic() - started:.0f} s")
    return tag


def lab_network(inventory: Path) -> str:
    """The Docker network whose subnet holds the inventory's hosts (a lab's nodes)."""
    # The ansible-inventory of the Python running this (the controller's venv), else of PATH.
    tool = Path(sys.executable).parent / "ansible-inventory"
    listing = run(str(tool) if tool.exists() else "ansible-inventory", "-i", str(inventory), "--list", capture=True)
    hostvars = json.loads(listing)["_meta"]["hostvars"]
    addresses = {ipaddress.ip_address(v["ansible_host"]) for v in hostvars.values() if "ansible_host" in v}
    for net in docker("network", "ls", "--quiet").split():
        name, *subnets = docker("network", "inspect", net, "--format",
                                "{{.Name}} {{range .IPAM.Config}}{{.Subnet}} {{end}}").split()
        if subnets and addresses and all(any(a in ipaddress.ip_network(s) for s in subnets) for a in addresses):
            return name
    raise SystemExit(f"no Docker network holds the hosts of {inventory}: pass --network")


def run_playbook(playbook: str, inventory: Path, network: str, image: str, extra: list[str],
                 mounts: list[str]) -> int:
    """`playbook` of the collection through ansible-runner in `image`, as AWX runs a job template.

    The runner starts the container (docker, attached to the lab's network, as root since the
    lab's keys are root's 0600 files) with a private data dir holding the inventory; the paths the
    inventory names on this machine (the lab's key, known_hosts, state and artifact mirror) are
    mounted at the same place.
    """
    runner = builder_venv() / "ansible-runner"
    with tempfile.TemporaryDirectory(prefix="corral-ee-run-") as private:
        if inventory.is_dir():
            shutil.copytree(inventory, Path(private) / "inventory")
        else:
            (Path(private) / "inventory").mkdir()
            shutil.copy2(inventory, Path(private) / "inventory" / inventory.name)
        (Path(private) / "project").mkdir()
        volumes = [f"--container-volume-mount={path}:{path}:Z" for path in mounts]
        cmd = [str(runner), "run", private, "--playbook", playbook, "--process-isolation",
               "--process-isolation-executable", "docker", "--container-image", image,
               f"--container-option=--network={network}", "--container-option=--user=0",
               *volumes]
        if extra:
            cmd.append(f"--cmdline={' '.join(extra)}")
        return subprocess.run(cmd, check=False, env={**os.environ, "ANSIBLE_FORCE_COLOR": "0"}).returncode


def main() -> int:
    parser = argparse.ArgumentParser(prog="tools/ee", description=__doc__.split("\n\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="build the execution environment image").add_argument("--tag", default=f"{IMAGE}:latest")
    runp = sub.add_parser("run", help="run a playbook of the collection through ansible-runner in the image")
    runp.add_argument("playbook", help="e.g. corral.cluster.preflight")
    runp.add_argument("--inventory", type=Path, required=True)
    runp.add_argument("--network", help="the Docker network of the lab's nodes (default: the one holding them)")
    runp.add_argument("--image", default=f"{IMAGE}:latest")
    runp.add_argument("--mount", action="append", default=[], help="a path the inventory names (repeat)")
    runp.add_argument("extra", nargs=argparse.REMAINDER, help="more ansible-playbook arguments")
    args = parser.parse_args()
    if args.command == "build":
        build(args.tag)
        return 0
    return run_playbook(args.playbook, args.inventory, args.network or lab_network(args.inventory), args.image,
                        args.extra, args.mount)


if __name__ == "__main__":
    sys.exit(main())
