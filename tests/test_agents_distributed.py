"""Data-parallel training: two gloo processes with B trajectories each make the update one process makes on 2B.

The processes are real (`torch.multiprocessing` spawn, process group from the torchrun environment variables);
the trajectories are the toy suite's gold episodes with varied rewards, rebuilt identically in every process.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

import torch.multiprocessing as mp  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

from steptool_agents.algorithms.base import build_algorithm  # noqa: E402
from steptool_agents.config import TrainConfig  # noqa: E402
from steptool_agents.policy.models import build_tiny_model, load_policy, save_base_model, train_bpe_tokenizer  # noqa: E402
from steptool_agents.policy.prompts import ReActFormat  # noqa: E402
from steptool_agents.policy.tokenization import Trajectory, encode  # noqa: E402
from steptool_agents.rollout.collect import Generated, make_vector_env  # noqa: E402
from steptool_agents.rollout.oracle import demo_trajectories, episode_texts, oracle_episodes  # noqa: E402
from steptool_agents.runtime import distributed  # noqa: E402
from steptool_agents.runtime.metrics import read_csv  # noqa: E402
from steptool_agents.trainer import check_data_parallel  # noqa: E402
from steptool_envs.toy import _gold, register_toy_env  # noqa: E402

ENV_ID = register_toy_env()
WORLD = 2
PER_RANK = 4  # trajectories per rank; the single process trains on WORLD × PER_RANK
ALGOS = ("steptool", "grpo")


def _cfg(algo: str) -> TrainConfig:
    return TrainConfig.from_dict({
        "algo": algo, "env_id": ENV_ID, "max_steps": 4, "seed": 3, "threads": 1,
        "model": {"vocab_size": 400, "hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64,
                  "max_context_tokens": 448, "max_prompt_tokens": 40, "lora_r": 4},
        "rollout": {"num_envs": 4, "episodes_per_update": WORLD * PER_RANK, "max_new_tokens": 48},
        "grpo": {"group_size": 2},
        # Minibatches of 3 out of 8 straddle the ranks unevenly; accumulation splits them further.
        "ppo": {"minibatch_size": 3, "grad_accum_steps": 2, "n_epochs": 2, "learning_rate": 1e-2,
                "target_approx_kl": None, "adaptive_kl": True, "kl_coef": 0.1, "whiten_advantages": True},
    })


def _trajectories(tok) -> list[Trajectory]:
    """Gold toy episodes with rewards and outcomes varied per episode, so advantages differ across ranks."""
    trajs = demo_trajectories(oracle_episodes(ENV_ID, WORLD * PER_RANK, 0, split="train", max_steps=4),
                              ReActFormat(tok.eos_token), tok, 40)
    for i, t in enumerate(trajs):
        t.rewards = [r * (0.3 + 0.2 * ((i * 5 + k) % 4)) for k, r in enumerate(t.rewards)]
        t.is_solved = float(i % 3 == 0)
    return trajs


class _GoldScript:
    """A scripted generator: answers each context with the gold call (what rollouts do without a model)."""

    def __init__(self, tok) -> None:
        self.tok = tok

    def __call__(self, contexts: list[list[int]], greedy: bool = False) -> list[Generated]:
        out = []
        for ctx in contexts:
            text = self.tok.decode(ctx)
            city = re.findall(r"temperature in (\w+)", text)[-1]
            out.append(Generated(encode(self.tok, _gold(city)[text.count("\nFunction:")].to_react()), False))
        return out


def _update(base_dir: Path, algo: str, trajs: list[Trajectory]) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """One PPO/GRPO update from a perturbed start (adapter ≠ reference, values ≠ 0); trainable weights after it."""
    cfg = _cfg(algo)
    torch.manual_seed(0)
    policy = load_policy(base_dir, cfg.model)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in policy.trainable_parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    trainer = build_algorithm(cfg, policy, lambda n: make_vector_env(ENV_ID, n, split="train", max_steps=4),
                              fmt=ReActFormat(policy.tokenizer.eos_token))
    before = [p.detach().clone() for p in policy.trainable_parameters()]
    try:
        batch, _ = trainer.compute_advantages(trajs)
        train_stats = trainer.train(batch)
    finally:
        trainer.envs.close()
    weights = {n: p.detach().clone() for n, p in policy.named_parameters() if p.requires_grad}
    moved = max(float((a - p.detach()).abs().max()) for a, p in zip(before, policy.trainable_parameters(), strict=True))
    stats = {"kl_coef_after": trainer.kl.value, "moved": moved, **distributed.reduce_metrics(train_stats)}
    return weights, stats


def _task_ids(base_dir: Path) -> list[str]:
    """Task ids of one update's rollouts (scripted generator) on this rank."""
    policy = load_policy(base_dir, _cfg("steptool").model)
    trainer = build_algorithm(_cfg("steptool"), policy,
                              lambda n: make_vector_env(ENV_ID, n, split="train", max_steps=4),
                              fmt=ReActFormat(policy.tokenizer.eos_token), generator=_GoldScript(policy.tokenizer))
    try:
        return [t.task_id for t in trainer.collect_rollouts()]
    finally:
        trainer.envs.close()


def _worker(rank: int, port: int, base_dir: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    assert distributed.init_from_env()
    try:
        assert (distributed.rank(), distributed.world_size()) == (rank, WORLD)
        base = Path(base_dir)
        from transformers import AutoTokenizer

        shard = _trajectories(AutoTokenizer.from_pretrained(base))[rank * PER_RANK:(rank + 1) * PER_RANK]
        report: dict[str, object] = {}
        for algo in ALGOS:
            weights, stats = _update(base, algo, shard)
            report[algo] = stats
            if rank == 0:
                save_file(weights, str(Path(out_dir) / f"{algo}.safetensors"))
        report["task_ids"] = _task_ids(base)
        # A batch that does not split over the ranks, or a one-process algorithm, is refused before any work.
        odd = _cfg("steptool").replace(rollout={**_cfg("steptool").to_dict()["rollout"], "num_envs": 3})
        with pytest.raises(ValueError, match=r"rollout.num_envs \(3\) must be divisible by the number of processes"):
            check_data_parallel(odd)
        with pytest.raises(ValueError, match="runs in one process"):
            check_data_parallel(_cfg("steptool").replace(algo="rft"))
        (Path(out_dir) / f"rank{rank}.json").write_text(json.dumps(report))
    finally:
        distributed.shutdown()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory) -> Path:
    cfg = _cfg("steptool").model
    tok = train_bpe_tokenizer(episode_texts(oracle_episodes(ENV_ID, 8, 0), "</s>"), cfg.vocab_size)
    path = tmp_path_factory.mktemp("tiny") / "model"
    save_base_model(build_tiny_model(cfg, tok, seed=0), tok, path, {"source": "tiny"})
    return path


def test_two_processes_equal_one_process_on_the_union(base_dir: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    mp.spawn(_worker, args=(_free_port(), str(base_dir), str(tmp_path)), nprocs=WORLD, join=True)
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(WORLD)]

    from transformers import AutoTokenizer

    trajs = _trajectories(AutoTokenizer.from_pretrained(base_dir))
    for algo in ALGOS:
        single, stats = _update(base_dir, algo, trajs)
        ddp = load_file(str(tmp_path / f"{algo}.safetensors"))
        assert stats["moved"] > 1e-3  # the update is not vacuous
        assert set(ddp) == set(single)
        for name, value in single.items():
            torch.testing.assert_close(ddp[name], value, rtol=1e-4, atol=1e-5, msg=f"{algo}: {name}")
        for report in reports:  # every rank logs the same numbers, and they are the single process's
            assert report[algo] == reports[0][algo]
            assert report[algo]["policy_loss"] == pytest.approx(stats["policy_loss"], rel=1e-4, abs=1e-6)
            assert report[algo]["kl_coef_after"] == pytest.approx(stats["kl_coef_after"], rel=1e-6)

    # Rollouts: each rank plays its slice of the update's env seeds; together they are the single-process batch.
    union = sorted(reports[0]["task_ids"] + reports[1]["task_ids"])
    assert len(reports[0]["task_ids"]) == len(reports[1]["task_ids"]) == PER_RANK
    assert union == sorted(_task_ids(base_dir))


def test_torchrun_cli_trains_on_two_processes(tmp_path: Path) -> None:
    """``torchrun -m steptool_agents.cli train``: both ranks train; rank 0 alone writes and prints the summary."""
    cfg = _cfg("steptool").to_dict()
    cfg.update(eval_split="test", eval_episodes=2, checkpoint_every=1, warm_start_sft=False)
    cfg["model"]["tokenizer_episodes"] = 8
    cfg["rollout"].update(num_envs=2, episodes_per_update=2, max_new_tokens=24)
    cfg["ppo"].update(updates=2, minibatch_size=2, ent_coef=0.05)
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(WORLD)]
    args = ["-m", "steptool_agents.cli", "train", "--config", str(tmp_path / "cfg.json"), "--no-eval"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run([*torchrun, *args, "--out", str(tmp_path / "run")], env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout)  # one JSON document: only rank 0 prints
    assert summary["train"]["action_tokens"] > 0
    out = tmp_path / "run"
    assert [r["update"] for r in read_csv(out / "metrics.csv")] == ["1", "2"]
    assert (out / "checkpoints" / "latest").read_text().strip() == "update_000002"
    assert (out / "final" / "adapter_model.safetensors").is_file()
