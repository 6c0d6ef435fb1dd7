"""Time a full site.yml on fresh lab nodes and its no-op re-run; record the slowest tasks
(profile_tasks) and the task count per host in bench/results/<UTC time>.json.

With --compare A B, the same is done for two commits of the collection, alternately (A B A B ...,
--rounds times each, a fresh lab every time), and the medians and their ratio B/A reported: the
machine's load drifts, and alternating spreads that drift over both sides."""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import lab  # noqa: E402
import lab_common  # noqa: E402
import lab_artifacts  # noqa: E402

RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", re.M)
# profile_tasks: "corral.cluster.etcd : Wait until ... ------ 12.34s"
PROFILE = re.compile(r"^(.+?) -+ (\d+\.\d+)s$", re.M)
SUBNET = "192.168.70.0/24"


def parse_run(stdout: str) -> dict:
    """Tasks per host and the slowest tasks, from ansible-playbook's recap and profile_tasks."""
    recap = {host: {"tasks": int(ok) + int(failed) + int(skipped), "ok": int(ok), "changed": int(changed),
                    "skipped": int(skipped)}
             for host, ok, changed, _unreachable, failed, skipped in RECAP.findall(stdout)}
    slowest = [{"task": name.strip(), "seconds": float(secs)} for name, secs in PROFILE.findall(stdout)]
    return {"hosts": recap, "slowest_tasks": slowest[:15]}


def site(inventory: Path, log: Path, checkout: Path = ROOT) -> dict:
    """site.yml of the collection in `checkout` (its own ansible.cfg and collection path)."""
    env = dict(os.environ, ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
               PROFILE_TASKS_TASK_OUTPUT_LIMIT="15", ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1",
               ANSIBLE_CONFIG=str(checkout / "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=str(checkout / "playbooks" / "collections"))
    started = time.monotonic()
    result = subprocess.run(["ansible-playbook", "-i", str(inventory), str(checkout / "playbooks" / "site.yml")],
                            cwd=checkout, env=env, capture_output=True, text=True, check=False)
    seconds = round(time.monotonic() - started, 1)
    log.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise SystemExit(f"site.yml failed (rc={result.returncode}); see {log}")
    return {"seconds": seconds, **parse_run(result.stdout)}


def deploy_and_rerun(args, bench_lab: lab.Lab, prefix: Path, checkout: Path = ROOT) -> dict:
    """A fresh lab, site.yml, its no-op re-run, the lab removed."""
    bench_lab.down()
    started = time.monotonic()
    bench_lab.up(args.nodes, args.control_planes, SUBNET, lab.default_image(), rancher=args.rancher,
                 kubernetes=args.kubernetes)
    lab_seconds = round(time.monotonic() - started, 1)
    try:
        first = site(bench_lab.inventory_path(), Path(f"{prefix}-site.log"), checkout)
        again = site(bench_lab.inventory_path(), Path(f"{prefix}-rerun.log"), checkout)
    finally:
        bench_lab.down()
    return {"lab_up_seconds": lab_seconds, "site": first, "no_op_rerun": again}


def summarize(runs: dict[str, list[dict]]) -> dict:
    """Medians of each side's deploy and no-op times, and the ratios of the second side to the first."""
    medians = {side: {"deploy": statistics.median(run["site"]["seconds"] for run in side_runs),
                      "no_op": statistics.median(run["no_op_rerun"]["seconds"] for run in side_runs),
                      "rounds": len(side_runs)}
               for side, side_runs in runs.items()}
    first, second = list(medians)
    return {"medians": medians,
            "ratio": {what: round(medians[second][what] / medians[first][what], 3) for what in ("deploy", "no_op")}}


def rev_parse(rev: str) -> str:
    result = subprocess.run(["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], cwd=ROOT, capture_output=True,
                            text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"--compare: {rev!r} is not a commit of this repository")
    return result.stdout.strip()


def compare(args, bench_lab: lab.Lab, results: Path, stamp: str) -> dict:
    """A B A B ...: each side from a detached worktree of its commit, the lab tooling from this checkout."""
    sides = {rev: rev_parse(rev) for rev in args.compare}
    if len(set(sides)) != 2:
        raise SystemExit("--compare needs two different revisions")
    worktrees = {}
    try:
        for rev, sha in sides.items():
            path = Path(tempfile.mkdtemp(prefix=f"corral-bench-{sha[:10]}-"))
            subprocess.run(["git", "worktree", "add", "--detach", "--force", str(path), sha], cwd=ROOT, check=True,
                           capture_output=True)
            worktrees[rev] = path
        runs: dict[str, list[dict]] = {rev: [] for rev in sides}
        for round_number in range(1, args.rounds + 1):
            for rev, checkout in worktrees.items():
                lab_common.log(f"Round {round_number}/{args.rounds}: {rev} ({sides[rev][:10]})")
                runs[rev].append(deploy_and_rerun(args, bench_lab, results / f"{stamp}-{sides[rev][:10]}-{round_number}",
                                                  checkout))
    finally:
        for path in worktrees.values():
            subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, check=False,
                           capture_output=True)
    return {"commits": sides, "runs": runs, **summarize(runs)}


def print_table(rows: list[tuple]) -> None:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--control-planes", type=int, default=1)
    parser.add_argument("--kubernetes", choices=lab.KUBERNETES_SETS, default=lab.KUBERNETES_SETS[0],
                        help="the lab's artifact set (Kubernetes release) to deploy")
    parser.add_argument("--rancher", action="store_true",
                        help="also a Rancher host (the contract stand-in) into which site.yml imports the cluster")
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"),
                        help="two commits of the collection, run alternately; reports medians and the ratio B/A")
    parser.add_argument("--rounds", type=int, default=2, help="with --compare: runs of each commit (default 2)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    bench_lab = lab.Lab("bench")
    lab.build_image(lab.default_image())
    lab_artifacts.build((args.kubernetes,))
    settings = {"when": stamp, "kubernetes": args.kubernetes, "nodes": args.nodes,
                "control_planes": args.control_planes, "rancher": args.rancher}
    if args.compare:
        figures = {**settings, **compare(args, bench_lab, results, stamp)}
        (results / f"{stamp}.json").write_text(json.dumps(figures, indent=2) + "\n")
        a_rev, b_rev = args.compare
        rows = [("commit", "rounds", "deploy s (median)", "no-op s (median)")]
        rows += [(f"{rev} {figures['commits'][rev][:10]}", m["rounds"], m["deploy"], m["no_op"])
                 for rev, m in figures["medians"].items()]
        rows.append((f"ratio {b_rev}/{a_rev}", "", figures["ratio"]["deploy"], figures["ratio"]["no_op"]))
        print_table(rows)
    else:
        figures = {**settings, **deploy_and_rerun(args, bench_lab, results / stamp)}
        (results / f"{stamp}.json").write_text(json.dumps(figures, indent=2) + "\n")
        first, again = figures["site"], figures["no_op_rerun"]
        print_table([("nodes", "deploy s", "no-op s", "changed on no-op", "tasks per host"),
                     (args.nodes, first["seconds"], again["seconds"],
                      sum(h["changed"] for h in again["hosts"].values()),
                      ", ".join(f"{host} {counts['tasks']}" for host, counts in first["hosts"].items()))])
        print("slowest tasks of the deploy:")
        for task in first["slowest_tasks"][:8]:
            print(f"  {task['seconds']:7.2f} s  {task['task']}")
        print("slowest tasks of the no-op re-run:")
        for task in again["slowest_tasks"][:8]:
            print(f"  {task['seconds']:7.2f} s  {task['task']}")
    print(results / f"{stamp}.json")


if __name__ == "__main__":
    main()
