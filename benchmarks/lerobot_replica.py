"""A LeRobot v2.1 dataset replicated N times into one bigger dataset, for benchmarks.

Each copy's episode files are rewritten under new episode indices (``episode_index`` and the
global ``index`` columns shifted to match) and ``meta/`` is extended — episodes.jsonl,
episodes_stats.jsonl, info.json totals, chunks and split — so any LeRobot reader takes the
result for one dataset of N times the episodes. Videos are copied for the first copy only:
the replicas are a tabular load, and every reader reports the same missing files.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def replicate(src: Path, dst: Path, times: int = 20) -> dict[str, int]:
    """Write ``times`` copies of the v2.1 dataset ``src`` as one dataset at ``dst``."""
    info = json.loads((src / "meta" / "info.json").read_text())
    if not str(info.get("codebase_version", "")).startswith("v2"):
        raise ValueError(f"{src}: only LeRobot v2.x datasets are replicated")
    chunks_size = int(info.get("chunks_size", 1000))
    episodes = sorted(_jsonl(src / "meta" / "episodes.jsonl"), key=lambda r: r["episode_index"])
    stats = {r["episode_index"]: r for r in _jsonl(src / "meta" / "episodes_stats.jsonl")}
    n_src = len(episodes)
    dst.mkdir(parents=True, exist_ok=True)
    (dst / "meta").mkdir(exist_ok=True)
    if (src / "videos").is_dir():
        shutil.copytree(src / "videos", dst / "videos", dirs_exist_ok=True)
    for extra in ("tasks.jsonl", "stats.json"):
        if (src / "meta" / extra).is_file():
            shutil.copy2(src / "meta" / extra, dst / "meta" / extra)
    ep_lines, stat_lines = [], []
    offset = 0
    for copy in range(times):
        for row in episodes:
            old = int(row["episode_index"])
            new = copy * n_src + old
            sf = src / info["data_path"].format(episode_chunk=old // chunks_size,
                                                episode_index=old)
            df = dst / info["data_path"].format(episode_chunk=new // chunks_size,
                                                episode_index=new)
            df.parent.mkdir(parents=True, exist_ok=True)
            table = pq.read_table(sf)
            n = table.num_rows
            for col, values in (("episode_index", pa.array([new] * n, pa.int64())),
                                ("index", pa.array(range(offset, offset + n), pa.int64()))):
                if col in table.column_names:
                    table = table.set_column(table.column_names.index(col), col, values)
            pq.write_table(table, df)
            offset += n
            ep_lines.append(json.dumps({**row, "episode_index": new}))
            if old in stats:
                st = json.loads(json.dumps(stats[old]))
                st["episode_index"] = new
                for key, fixed in (("episode_index", new), ("index", None)):
                    s = st.get("stats", {}).get(key)
                    if s and fixed is not None:
                        s.update(min=[fixed], max=[fixed], mean=[float(fixed)], std=[0.0])
                stat_lines.append(json.dumps(st))
    (dst / "meta" / "episodes.jsonl").write_text("\n".join(ep_lines) + "\n")
    (dst / "meta" / "episodes_stats.jsonl").write_text("\n".join(stat_lines) + "\n")
    total = n_src * times
    n_video = sum(1 for f in info.get("features", {}).values() if f.get("dtype") == "video")
    info.update(total_episodes=total, total_frames=offset,
                total_chunks=(total - 1) // chunks_size + 1,
                total_videos=total * n_video, splits={"train": f"0:{total}"})
    (dst / "meta" / "info.json").write_text(json.dumps(info, indent=4))
    return {"episodes": total, "frames": offset}


if __name__ == "__main__":
    import sys

    print(replicate(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3
                    else 20))
