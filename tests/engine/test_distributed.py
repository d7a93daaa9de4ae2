"""Two processes under torchrun (gloo on this CPU) train exactly like one process with the same global batch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

SCRIPT = Path(__file__).with_name("ddp_script.py")
sys.path.insert(0, str(SCRIPT.parent))

from ddp_script import train  # noqa: E402


def test_two_ranks_match_each_other_and_a_single_process(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            str(SCRIPT),
            str(tmp_path),
        ],
        check=True,
        env=env,
        timeout=300,
    )
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for name, value in rank0["params"].items():
        assert torch.equal(value, rank1["params"][name]), f"ranks differ in {name}"
    single, result = train()
    for name, value in single.state_dict().items():
        torch.testing.assert_close(rank0["params"][name], value, rtol=1e-5, atol=1e-6, msg=name)
    # the logged loss is the mean over ranks, i.e. the loss of the global batch
    assert abs(rank0["loss"] - result.train_metrics["loss"]) < 1e-5
    # rank 0 evaluated; every rank returns its result
    assert rank0["eval"] == rank1["eval"] and rank0["eval"]["loss"] > 0
    # only rank 0 wrote the run folder
    assert (tmp_path / "run" / "metrics.jsonl").exists()
    assert [p.name for p in (tmp_path / "run" / "checkpoints").iterdir()] == ["step-00000012.pt"]
