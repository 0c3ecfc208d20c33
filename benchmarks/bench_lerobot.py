"""``embodiq check`` against ``lerobot-doctor`` on 2,000 real LeRobot episodes.

The Unitree G1 sample (LeRobot v2.1, 100 episodes) is replicated 20 times into one dataset of
2,000 episodes (``lerobot_replica``). Both tools check it in a fresh process, one run each, and
the figures are their wall-time ratio and the peak memory of ``embodiq check``. lerobot-doctor
lives in its own environment, built by ``../shared/tools/lerobot/setup.sh`` (default
``/tmp/lerobot-env``, or ``LEROBOT_ENV``); without it the comparison is skipped and said so.
Goals: at least 10x faster than lerobot-doctor, at most 300 MB peak in any one process of
``embodiq check`` (the parent, which only hands out work, and each worker, which reads and
checks). Its CPU time sums all its processes (its workers are not its children, so
``getrusage`` alone would miss them).
"""

from __future__ import annotations

import collections
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from lerobot_replica import replicate  # noqa: E402
from proc_tree import run_watched  # noqa: E402

SAMPLE = REPO.parent / "shared" / "data" / "lerobot-v21-unitree-g1"
SETUP = REPO.parent / "shared" / "tools" / "lerobot" / "setup.sh"
COPIES = 20

# VmHWM, not ru_maxrss: the latter survives exec and would report this parent's peak
_CHECK = ("import sys; from pipelines.cli.main import app\n"
          "try:\n    app(['check', sys.argv[1], '--json', '--quiet'])\n"
          "except SystemExit:\n    pass\n"
          "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
          "print(int(hwm.split()[1]), file=sys.stderr)")


def _child_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def embodiq_check(path: Path, out: Path, env: dict[str, str]
                  ) -> tuple[float, float, float, float]:
    """Wall time (s), CPU time (s) of all its processes, the parent's peak RSS (MB) and the
    largest peak RSS of any of its processes (MB: the parent, the fork server, the workers) of
    ``embodiq check`` in a fresh process (:mod:`proc_tree`)."""
    c0 = _child_cpu()
    with open(out, "w") as fh:
        fig = run_watched([sys.executable, "-c", _CHECK, str(path)], env=env, cwd=REPO,
                          stdout=fh)
    root = min(fig.peaks_mb, default=None)  # the first pid polled is the command's own
    parent = int(fig.stderr.strip().splitlines()[-1]) / 1024.0
    # the parent's own CPU exactly (it is our child); the workers' as last polled
    cpu = _child_cpu() - c0 + sum(c for pid, c in fig.cpu_s.items() if pid != root)
    return fig.wall_s, cpu, parent, max(parent, fig.largest_mb)


def doctor_env() -> tuple[dict[str, str], Path] | str:
    """lerobot-doctor's environment as setup.sh exports it, or why it is not there."""
    lr = Path(os.environ.get("LEROBOT_ENV", "/tmp/lerobot-env"))
    doc = lr / "venv" / "bin" / "lerobot-doctor"
    if not doc.is_file():
        return (f"lerobot-doctor is not installed at {doc} (run: source {SETUP} {lr}, "
                "or set LEROBOT_ENV)")
    # setup.sh only exports variables once its environment exists
    dump = subprocess.run(["bash", "-c", f'source "{SETUP}" "{lr}" >/dev/null 2>&1 && env -0'],
                          capture_output=True)
    env = dict(kv.split("=", 1) for kv in dump.stdout.decode().split("\0") if "=" in kv)
    return env, doc


def doctor_findings(report: dict) -> list[str]:
    out = []
    for check in report.get("checks", []):
        for msg in check.get("messages", []):
            if msg.get("severity") != "PASS":
                out.append(f"[{msg['severity']}] {check['name']}: {msg['message']}")
    return out


def embodiq_findings(doc: dict) -> list[str]:
    per = collections.Counter()
    for e in doc["episodes"]:
        for f in {(f["check_id"], f["severity"]) for f in e["findings"]}:
            per[f] += 1
    out = [f"[{sev}] {cid}: {n} episode(s)" for (cid, sev), n in sorted(per.items())
           if sev != "info"]
    ds = collections.Counter((f["check_id"], f["severity"]) for f in doc["dataset_findings"])
    firsts = {}
    for f in doc["dataset_findings"]:
        firsts.setdefault((f["check_id"], f["severity"]), f["message"])
    out += [f"[{sev}] {cid} (dataset) x{n}, first: {firsts[cid, sev]}"
            for (cid, sev), n in sorted(ds.items()) if sev != "info"]
    return out


def main() -> None:
    if not SAMPLE.is_dir():
        print(f"lerobot benchmark skipped: the G1 sample is not at {SAMPLE}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp_p = Path(tmp)
        data = tmp_p / "g1x20"
        sizes = replicate(SAMPLE, data, COPIES)
        print(f"dataset: G1 sample x{COPIES}: {sizes['episodes']} episodes, "
              f"{sizes['frames']} frames")
        env = {**os.environ, "EMBODIQ_STORE": str(tmp_p / "store")}
        embodiq_check(SAMPLE, tmp_p / "warm.json", env)  # numba's cache loaded once, not timed
        t_eq, c_eq, parent, rss = embodiq_check(data, tmp_p / "embodiq.json", env)
        print(f"embodiq check: {t_eq:.1f} s wall, {c_eq:.1f} s CPU, peak "
              f"{parent:.0f} MB in the parent, {rss:.0f} MB in its largest process")
        print(f"check_parent_rss_mb={parent:.1f}")
        print(f"check_peak_rss_mb={rss:.1f}")
        found = doctor_env()
        if isinstance(found, str):
            print(f"lerobot-doctor comparison skipped: {found}")
            return
        denv, doc = found
        t0, c0 = time.perf_counter(), _child_cpu()
        proc = subprocess.run([str(doc), str(data), "--ci"], env=denv, capture_output=True,
                              text=True)
        t_doc, c_doc = time.perf_counter() - t0, _child_cpu() - c0
        print(f"lerobot-doctor: {t_doc:.1f} s wall, {c_doc:.1f} s CPU (exit {proc.returncode})")
        print("goals: >= 10x faster than lerobot-doctor, <= 300 MB peak "
              "(the CPU-time ratio is steadier on a shared machine)")
        print(f"check_speedup_vs_lerobot_doctor={t_doc / t_eq:.2f}")
        print(f"check_cpu_speedup_vs_lerobot_doctor={c_doc / c_eq:.2f}")
        try:
            report = json.loads(proc.stdout)
        except json.JSONDecodeError:
            print("lerobot-doctor's report is not JSON; findings not compared")
            return
        print("lerobot-doctor reports:")
        for line in doctor_findings(report):
            print(f"  {line}")
        print("embodiq reports (warnings and errors):")
        for line in embodiq_findings(json.loads((tmp_p / "embodiq.json").read_text())):
            print(f"  {line}")


if __name__ == "__main__":
    main()
