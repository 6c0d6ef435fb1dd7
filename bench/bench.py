"""Time a full site.yml on fresh lab nodes and its no-op re-run; record the slowest tasks
(profile_tasks) and the task count per host in bench/results/<UTC time>.json."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import lab  # noqa: E402
import lab_artifacts  # noqa: E402

RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", re.M)
# profile_tasks: "corral.cluster.etcd : Wait until ... ------ 12.34s"
PROFILE = re.compile(r"^(.+?) -+ (\d+\.\d+)s$", re.M)


def site(inventory: Path, log: Path) -> dict:
    env = dict(os.environ, ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
               PROFILE_TASKS_TASK_OUTPUT_LIMIT="15", ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    started = time.monotonic()
    result = subprocess.run(["ansible-playbook", "-i", str(inventory), str(ROOT / "playbooks" / "site.yml")],
                            cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = round(time.monotonic() - started, 1)
    log.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise SystemExit(f"site.yml failed (rc={result.returncode}); see {log}")
    recap = {host: {"tasks": int(ok) + int(failed) + int(skipped), "ok": int(ok), "changed": int(changed),
                    "skipped": int(skipped)}
             for host, ok, changed, _unreachable, failed, skipped in RECAP.findall(result.stdout)}
    slowest = [{"task": name.strip(), "seconds": float(secs)} for name, secs in PROFILE.findall(result.stdout)]
    return {"seconds": seconds, "hosts": recap, "slowest_tasks": slowest[:15]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--control-planes", type=int, default=1)
    parser.add_argument("--kubernetes", choices=lab.KUBERNETES_SETS, default=lab.KUBERNETES_SETS[0],
                        help="the lab's artifact set (Kubernetes release) to deploy")
    parser.add_argument("--rancher", action="store_true",
                        help="also a Rancher host (the contract stand-in) into which site.yml imports the cluster")
    args = parser.parse_args()
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    bench_lab = lab.Lab("bench")
    bench_lab.down()
    lab.build_image(lab.default_image())
    lab_artifacts.build((args.kubernetes,))
    started = time.monotonic()
    bench_lab.up(args.nodes, args.control_planes, "192.168.70.0/24", lab.default_image(), rancher=args.rancher,
                 kubernetes=args.kubernetes)
    lab_seconds = round(time.monotonic() - started, 1)
    try:
        first = site(bench_lab.inventory_path(), results / f"{stamp}-site.log")
        again = site(bench_lab.inventory_path(), results / f"{stamp}-rerun.log")
    finally:
        bench_lab.down()
    figures = {"when": stamp, "kubernetes": args.kubernetes, "nodes": args.nodes,
               "control_planes": args.control_planes, "rancher": args.rancher, "lab_up_seconds": lab_seconds, "site": first, "no_op_rerun": again}
    (results / f"{stamp}.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"lab up {lab_seconds} s; site.yml {first['seconds']} s; no-op re-run {again['seconds']} s "
          f"(changed: {sum(h['changed'] for h in again['hosts'].values())})")
    for host, counts in first["hosts"].items():
        print(f"  {host}: {counts['tasks']} tasks")
    for task in first["slowest_tasks"][:8]:
        print(f"  {task['seconds']:7.2f} s  {task['task']}")
    print(results / f"{stamp}.json")


if __name__ == "__main__":
    main()
