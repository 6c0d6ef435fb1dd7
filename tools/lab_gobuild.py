"""Binaries built from Go modules with the ordinary go command, cached by recipe.

The lab reaches the Go module proxy but no release download site, so the current cluster
artifacts (Kubernetes, containerd, runc, etcd, CNI plugins, crictl, cri-dockerd, ...) are built
from their modules. A `GoBuild` is the recipe: module, version, the packages to build and how
(tags, ldflags, cgo). `build()` downloads the module through the proxy, copies it to a writable
tree, points replace directives to local paths (`=> ./staging/...`, `=> ../api`, which module
downloads do not contain) at the published modules of the same release, and runs `go build`
once per binary. The result is kept under CACHE/go-builds/<name>-<version>-<recipe hash>/:
nothing is rebuilt while the recipe, the go command and the module version are unchanged.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lab_common import CACHE, ensure_packages, locked, log, run

GO = Path(os.environ.get("CORRAL_LAB_GO", "/usr/local/go/bin/go"))
BUILDS = CACHE / "go-builds"
# Module downloads and the build cache live with the rest of the lab's cache.
GO_ENV = {
    "GOMODCACHE": str(CACHE / "go" / "mod"),
    "GOCACHE": str(CACHE / "go" / "build"),
    "GOPATH": str(CACHE / "go" / "path"),
    "GOFLAGS": "-mod=mod",
    "GOTOOLCHAIN": "local",
    "GOWORK": "off",
}
# Bumped when build() itself changes in a way that changes its output.
BUILDER_REVISION = 1


@dataclass(frozen=True)
class GoBuild:
    """How to build binaries from one Go module at one version.

    binaries: output name -> package directory in the module ("." or "cmd/x"); a name "*" with
    a glob ("plugins/main/*") builds every directory it matches, each named after it.
    ldflags/tags: as the project's own release build passes them; "{version}" is the version
    without its leading v, "{tag}" with it. local_replace_versions: module path prefix ->
    version that replaces a `=> ./...` or `=> ../...` replace directive of a required module
    (the module's own release by default). apt: Debian packages a cgo build needs (name ->
    a file it provides). skip: directory names a glob leaves out. sums: "module@version" -> (h1
    sum of the zip, h1 sum of its go.mod) for the module versions the checksum database does not
    answer: they are fetched with GONOSUMDB and checked against these sums instead. edits: (file,
    old text, new text) replacements in the module's tree before the build, each of which must
    match exactly once (for a part that cannot be built from the proxy, e.g. an import of a module
    it does not serve).
    """

    name: str
    module: str
    version: str
    binaries: dict[str, str]
    ldflags: tuple[str, ...] = ("-s", "-w")
    tags: tuple[str, ...] = ()
    cgo: bool = False
    static: bool = False
    apt: dict[str, str] = field(default_factory=dict)
    local_replace_versions: dict[str, str] = field(default_factory=dict)
    skip: tuple[str, ...] = ()
    sums: dict[str, tuple[str, str]] = field(default_factory=dict)
    edits: tuple[tuple[str, str, str], ...] = ()

    @property
    def bare_version(self) -> str:
        return self.version.lstrip("v")

    def key(self) -> str:
        fields = asdict(self)
        # Recipes without pinned sums or edits keep the key they had before those fields existed.
        if not fields["sums"]:
            del fields["sums"]
        if not self.edits:
            del fields["edits"]
        recipe = json.dumps({"recipe": fields, "go": go_version(), "builder": BUILDER_REVISION}, sort_keys=True)
        return hashlib.sha256(recipe.encode()).hexdigest()[:16]

    def output(self) -> Path:
        return BUILDS / f"{self.name}-{self.bare_version}-{self.key()}"


def go_version() -> str:
    return run(str(GO), "version", capture=True)


def go_env(cgo: bool = False, nosumdb: tuple[str, ...] = ()) -> dict[str, str]:
    env = dict(os.environ, **GO_ENV, CGO_ENABLED="1" if cgo else "0")
    env["PATH"] = f"{GO.parent}:{env['PATH']}"
    if nosumdb:
        env["GONOSUMDB"] = ",".join(nosumdb)
    return env


def unverified_modules(sums: dict[str, tuple[str, str]]) -> tuple[str, ...]:
    """The module paths the checksum database is not asked about (their sums are pinned instead)."""
    return tuple(sorted({pinned.split("@")[0] for pinned in sums}))


def module_source(module: str, version: str, sums: dict[str, tuple[str, str]] | None = None) -> Path:
    """The module's files in the module cache (read-only), downloaded through the proxy; a module
    version whose sums are pinned is checked against them."""
    sums = sums or {}
    out = run(str(GO), "mod", "download", "-json", f"{module}@{version}", capture=True, check=False,
              env=go_env(nosumdb=unverified_modules(sums)))
    info = json.loads(out) if out.startswith("{") else {}
    if "Dir" not in info:
        raise SystemExit(f"The Go module proxy does not serve {module}@{version}: "
                         f"{info.get('Error', out)} (go mod download {module}@{version})")
    pinned = sums.get(f"{module}@{version}")
    if pinned is not None and (info.get("Sum"), info.get("GoModSum")) != tuple(pinned):
        raise SystemExit(f"{module}@{version} from the proxy has the sums {info.get('Sum')} (zip) and "
                         f"{info.get('GoModSum')} (go.mod), not the {pinned[0]} and {pinned[1]} its recipe pins")
    return Path(info["Dir"])


def writable_tree(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest, symlinks=True)
    for root, dirs, files in os.walk(dest):
        for name in dirs + files:
            path = Path(root) / name
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o200)
    return dest


def rewrite_local_replaces(tree: Path, recipe: GoBuild) -> list[str]:
    """Drop replace directives to paths the module download lacks; require the published modules
    instead. Returns the module paths rewritten."""
    mod = json.loads(run(str(GO), "mod", "edit", "-json", capture=True, cwd=tree, env=go_env()))
    required = {item["Path"] for item in mod.get("Require") or ()}
    edits, rewritten = [], []
    for replace in mod.get("Replace") or ():
        new_path = replace["New"]["Path"]
        if not new_path.startswith(("./", "../")):
            continue
        old = replace["Old"]["Path"]
        edits.append(f"-dropreplace={old}")
        if old in required:
            version = next((v for prefix, v in recipe.local_replace_versions.items() if old.startswith(prefix)),
                           recipe.version)
            edits.append(f"-require={old}@{version}")
            rewritten.append(old)
    if edits:
        run(str(GO), "mod", "edit", *edits, cwd=tree, env=go_env())
    return rewritten


def apply_edits(tree: Path, recipe: GoBuild) -> None:
    for relative, old, new in recipe.edits:
        path = tree / relative
        text = path.read_text()
        if text.count(old) != 1:
            raise SystemExit(f"{recipe.module}@{recipe.version}: {relative} holds {text.count(old)} times, not once, "
                             f"the text the recipe replaces: {old!r}")
        path.write_text(text.replace(old, new))


def package_dirs(tree: Path, recipe: GoBuild) -> dict[str, str]:
    """Output name -> package directory, globs expanded."""
    out = {}
    for name, package in recipe.binaries.items():
        if name != "*":
            out[name] = package
            continue
        for path in sorted(glob.glob(str(tree / package))):
            directory = Path(path)
            if directory.is_dir() and directory.name not in recipe.skip:
                out[directory.name] = str(directory.relative_to(tree))
    return out


def ldflags(recipe: GoBuild) -> str:
    flags = [flag.format(version=recipe.bare_version, tag=recipe.version) for flag in recipe.ldflags]
    if recipe.static:
        flags.append("-extldflags=-static")
    return " ".join(flags)


def build(recipe: GoBuild) -> Path:
    """The directory holding the recipe's binaries, built now unless cached."""
    output = recipe.output()
    if (output / "done").exists():
        return output
    with locked(output.with_name(output.name + ".lock")):
        if (output / "done").exists():  # built by another session while this one waited
            return output
        return _build(recipe, output)


def _build(recipe: GoBuild, output: Path) -> Path:
    if recipe.apt:
        ensure_packages({name: Path(path) for name, path in recipe.apt.items()})
    log(f"Building {recipe.name} {recipe.version} from the Go module {recipe.module}")
    started = time.monotonic()
    source = module_source(recipe.module, recipe.version, recipe.sums)
    with tempfile.TemporaryDirectory(prefix=f"corral-gobuild-{recipe.name}-") as tmp:
        tree = writable_tree(source, Path(tmp) / "src")
        for workspace in ("go.work", "go.work.sum"):
            (tree / workspace).unlink(missing_ok=True)
        # A module download's vendor/ is incomplete: build against the module cache.
        shutil.rmtree(tree / "vendor", ignore_errors=True)
        rewrite_local_replaces(tree, recipe)
        apply_edits(tree, recipe)
        env = go_env(recipe.cgo, unverified_modules(recipe.sums))
        staging = Path(tmp) / "bin"
        staging.mkdir()
        for name, package in package_dirs(tree, recipe).items():
            args = [str(GO), "build", "-trimpath", "-ldflags", ldflags(recipe)]
            if recipe.tags:
                args += ["-tags", ",".join(recipe.tags)]
            result = subprocess.run([*args, "-o", str(staging / name), f"./{package}"], cwd=tree, env=env,
                                    capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise SystemExit(f"go build of {recipe.module}@{recipe.version} ./{package} failed:\n"
                                 f"{result.stderr.strip()[-4000:]}")
        if output.exists():
            shutil.rmtree(output)
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(staging, output / "bin")
    seconds = time.monotonic() - started
    (output / "done").write_text(json.dumps({"seconds": round(seconds), "recipe": asdict(recipe),
                                             "go": go_version()}, indent=2) + "\n")
    log(f"Built {recipe.name} {recipe.version} in {seconds:.0f} s")
    return output


def source_file(recipe: GoBuild, relative: str) -> Path:
    """A file of the recipe's module (e.g. a C source beside the Go code)."""
    return module_source(recipe.module, recipe.version, recipe.sums) / relative
