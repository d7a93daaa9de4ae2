"""Run the README's first command exactly as the README writes it, as a new user would.

The command is read from README.md (the first ```bash block), not copied here, so the check
follows the README. It runs in a fresh copy of the tracked files (no .venv, no build folders)
with a clean environment, and passes only when it exits 0; `xuframe demo` exits non-zero when
any demo fails, so that means every demo passed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def first_command(readme: str) -> str:
    block = re.search(r"```bash\n(.*?)```", readme, re.S)
    if block is None:
        raise SystemExit("README.md has no ```bash block")
    lines = [line for line in block.group(1).splitlines() if line.strip()]
    return lines[0]


def tracked_copy(target: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = ROOT / name.decode()
        if source.is_file():
            (target / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name.decode())


def main() -> int:
    command = first_command((ROOT / "README.md").read_text())
    print(f"README's first command: {command}", flush=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PIP_REQUIRE_VIRTUALENV"}
    }
    # the tox env's own bin folder must not shadow the new user's python3
    tox_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != tox_bin)
    with tempfile.TemporaryDirectory(prefix="xuframe-readme-") as folder:
        tracked_copy(Path(folder))
        start = time.perf_counter()
        result = subprocess.run(["bash", "-c", command], cwd=folder, env=env)
        minutes = (time.perf_counter() - start) / 60
    verdict = "passed" if result.returncode == 0 else f"FAILED (exit {result.returncode})"
    print(f"README's first command {verdict} in {minutes:.1f} min", flush=True)
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
