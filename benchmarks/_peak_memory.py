"""Part 4 of benchmarks/speed.py: memmap_memory.py's two runs, results printed as JSON.

speed.py starts this in a fresh interpreter rather than calling memmap_memory.py's
functions itself: on Linux a child process inherits its parent's peak RSS (``ru_maxrss``
survives fork and exec), so a parent that has imported torch and trained models would
add its own peak to both loaders' figures. This process imports neither torch nor the
package; each loader runs in a child of it, as in memmap_memory.py. Takes the same flags.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import memmap_memory  # the same folder: sys.path[0] when run as a script


def main(argv: list[str] | None = None) -> None:
    args = memmap_memory.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="torchbasics-speed-memory-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        memmap_memory.write_dataset(workdir, args.size_gib, args.image_size, args.seed)
        size_bytes = (workdir / memmap_memory.IMAGES).stat().st_size
        results = []
        for path in args.paths:
            print(f"running {path} ...", file=sys.stderr, flush=True)
            results.append(memmap_memory.run_in_child(path, args, workdir))
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps({"size_bytes": size_bytes, "results": results}))


if __name__ == "__main__":
    main()
