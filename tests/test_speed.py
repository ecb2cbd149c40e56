"""Speed regression guards (relative to each suite's floor measured in the same test) and the exactness of the
fast paths: τ²'s per-record end-state check, BFCL's cached state key, StableToolBench's C LCS, seeded resets,
ToolBench's answer normalisation."""

from __future__ import annotations

import hashlib
import json
import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils import seeding

import steptool_gym  # noqa: F401 - registers the envs
from steptool_gym import ToolCall
from steptool_gym.bench import floor_ratio
from steptool_gym.errors import DataError, MissingExtraError

# Median CPU-time ratio env / floor measured by benchmarks/env_throughput.py (benchmarks/results/
# env_throughput.json, 2-core CPU, fresh seeds). A test fails when a step gets 3x slower than that allows.
MEASURED_RATIO = {
    "StepTool-ToolBench-v0": 0.41,
    "StepTool-StableToolBench-v0": 0.53,
    "StepTool-BFCL-MultiTurn-v0": 0.28,
    "StepTool-Tau2-Retail-v0": 0.43,
}
SLOWDOWN = 3.0


def _make_or_skip(env_id: str) -> None:
    try:
        gym.make(env_id, disable_env_checker=True).close()
    except (MissingExtraError, DataError) as exc:
        pytest.skip(f"{env_id}: {str(exc).splitlines()[0]}")


@pytest.mark.parametrize("env_id", sorted(MEASURED_RATIO))
def test_step_cost_stays_close_to_the_suite_floor(env_id: str) -> None:
    _make_or_skip(env_id)
    ratio = floor_ratio(env_id, tasks=10, min_seconds=0.1, repeats=3)
    assert ratio >= MEASURED_RATIO[env_id] / SLOWDOWN, (
        f"{env_id}: env/floor CPU ratio {ratio:.3f} < {MEASURED_RATIO[env_id]:.2f} / {SLOWDOWN}")


# ------------------------------------------------------------------ exactness of the fast paths
def test_seeded_reset_matches_gymnasiums_generator() -> None:
    env = gym.make("StepTool-ToolBench-G1-v0").unwrapped
    for seed in (0, 7, 7, 2**40):
        env.reset(seed=seed)
        expected, _ = seeding.np_random(seed)
        expected.integers(len(env.suite.tasks))  # the draw of the task
        assert env.np_random_seed == seed
        assert np.array_equal(env.np_random.integers(1 << 30, size=8), expected.integers(1 << 30, size=8))
    env.reset(seed=3)
    first = env.task.task_id
    env.reset()
    env.reset(seed=3)
    assert env.task.task_id == first
    # A task from `options` draws nothing: the generator is derived only when read, and is still the seed's own.
    rng = env.np_random
    env.reset(seed=11, options={"task_index": 5})
    assert env.np_random_seed == 11 and env.task is env.suite.tasks[5]
    snap = env.snapshot()
    expected, _ = seeding.np_random(11)
    assert env.np_random is rng
    assert np.array_equal(env.np_random.integers(1 << 30, size=8), expected.integers(1 << 30, size=8))
    env.restore(snap)
    expected, _ = seeding.np_random(11)
    assert np.array_equal(env.np_random.integers(1 << 30, size=8), expected.integers(1 << 30, size=8))
    with pytest.raises(gym.error.Error):
        env.reset(seed=-1)


def test_stabletoolbench_lcs_is_exact_on_the_shared_records() -> None:
    _make_or_skip("StepTool-StableToolBench-v0")
    from steptool_envs.stabletoolbench.judges import (
        _LCS_MAX_ANSWER,
        _LCS_MAX_RESPONSE,
        lcs_length,
        lcs_length_py,
        response_text,
    )

    env = gym.make("StepTool-StableToolBench-v0").unwrapped
    suite = env.suite
    pairs = []
    for task in suite.tasks:
        if not task.gold.answer:
            continue
        catalog = suite.task_catalog(task)
        for name, arguments in task.gold.calls:
            hit = suite.cache.call(catalog[name], arguments, None) if name in catalog else None
            if hit is not None:
                pairs.append((response_text(hit.response)[:_LCS_MAX_RESPONSE], task.gold.answer[:_LCS_MAX_ANSWER]))
        if len(pairs) >= 300:
            break
    assert len(pairs) >= 100
    assert [lcs_length(a, b) for a, b in pairs] == [lcs_length_py(a, b) for a, b in pairs]
    assert lcs_length("", "abc") == lcs_length_py("", "abc") == 0
    assert lcs_length("é😀x", "xé😀") == lcs_length_py("é😀x", "xé😀") == 2


def _bfcl_reference_key(task, state) -> str:  # every simulator dumped afresh in the reference form
    from steptool_envs.bfcl.suite import _path

    cwd = [_path(inst) for inst in state.instances.values() if hasattr(inst, "_current_dir")]
    head = {"task": task.task_id, "turn": state.turn, "matched": state.matched, "called": state.turn_calls > 0,
            "failed": not state.solved, "cwd": cwd}
    world = [f"{name}={_reference_state_json(inst)}" for name, inst in sorted(state.instances.items())]
    return "|".join([json.dumps(head, sort_keys=True), *world])


def _bfcl_random_rollouts(category: str, tasks: range, seed: int):
    """(env, info) after every reset and step of random rollouts: each action a ground-truth call of any task
    that the entry offers (real argument values, in any order and turn) or a Finish; some steps snapshot the env
    and later restore it, so states recur by different paths."""
    import random

    env = gym.make("StepTool-BFCL-MultiTurn-v0", category=category).unwrapped
    pool: dict[str, list] = {}
    for task in env.suite.tasks:
        for call in (c for turn in task.gold.turns for c in turn):
            pool.setdefault(call.name, []).append(call)
    finish = ToolCall("Finish", {"return_type": "give_answer", "final_answer": "Done."})
    rng = random.Random(seed)
    for index in tasks:
        for _ in range(2):
            _, info = env.reset(options={"task_index": index})
            yield env, info
            names = [n for n in (*env.task.api_names, *env.suite.extra_apis(env.task)) if n in pool]
            snap = None
            for _ in range(rng.randint(4, 24)):
                if rng.random() < 0.15:
                    action = finish
                else:
                    gold = rng.choice(pool[rng.choice(names)])
                    action = ToolCall(gold.name, dict(gold.arguments))
                _, _, terminated, truncated, info = env.step(action)
                yield env, info
                if terminated or truncated:
                    break
                if snap is None and rng.random() < 0.2:
                    snap = env.snapshot()
            if snap is not None:
                env.restore(snap)
                yield env, {"state_key": env.state_key()}


@pytest.mark.parametrize("category", ["base", "long_context"])
def test_bfcl_state_key_agrees_with_a_full_reference_dump(category: str) -> None:
    """Equal states give equal keys and different states different keys, exactly where BFCL's reference canonical
    form (`_reference_state_json`, no cache, no orjson) says so: on random rollouts over real entries, after
    snapshot/restore too. And a key with its per-simulator digests cached equals one computed from scratch."""
    _make_or_skip("StepTool-BFCL-MultiTurn-v0")
    from steptool_envs.bfcl.suite import BFCLEpisode

    key_of: dict[str, str] = {}
    reference_of: dict[str, str] = {}
    seen = mixed = 0
    for env, info in _bfcl_random_rollouts(category, range(0, 200, 2), seed=17):
        state = env.judge_state
        fresh = BFCLEpisode(state.instances, state.turn, state.turn_calls, state.results, state.matched,
                            state.checks, state.finished)  # no cached digests
        assert info["state_key"] == env.suite.state_key(env.task, fresh) == env.state_key()
        reference = hashlib.blake2b(_bfcl_reference_key(env.task, state).encode(), digest_size=16).hexdigest()
        assert key_of.setdefault(reference, info["state_key"]) == info["state_key"], "equal states, different keys"
        assert reference_of.setdefault(info["state_key"], reference) == reference, "different states, equal key"
        seen += 1
        trading = state.instances.get("TradingBot")
        mixed += trading is not None and len({type(k) for k in trading.orders}) > 1  # json cannot sort its keys
    # Many states, many met more than once, many with TradingBot's mixed-type keys.
    assert len(key_of) >= 1000 and seen - len(key_of) >= 300 and mixed >= 100, (len(key_of), seen, mixed)


def test_bfcl_read_only_methods_leave_the_state_as_it_was() -> None:
    """Every method in `READ_ONLY` (whose calls keep the cached digest and run on a simulator a snapshot may share)
    leaves the reference dump, the current directory and the pickled instance unchanged, called with real argument
    values (and none) on real states of random rollouts; the same check catches a writing method."""
    _make_or_skip("StepTool-BFCL-MultiTurn-v0")
    import random

    from steptool_envs.bfcl.suite import READ_ONLY, _path, run_simulator

    def dump(inst) -> tuple[str, str, bytes]:  # private state too: snapshots share simulators until a write
        return _reference_state_json(inst), _path(inst) if hasattr(inst, "_current_dir") else "", pickle.dumps(inst)

    rng = random.Random(5)
    pool: dict[str, list] = {}
    checked = caught = 0
    for category in ("base", "long_context"):
        for env, _ in _bfcl_random_rollouts(category, range(0, 200, 20), seed=23):
            if not pool:
                for task in env.suite.tasks:
                    for call in (c for turn in task.gold.turns for c in turn):
                        pool.setdefault(call.name, []).append(dict(call.arguments))
            for cls, inst in env.judge_state.instances.items():
                assert READ_ONLY[cls] <= set(env.suite.functions[cls])
                before = dump(inst)
                for name in sorted(READ_ONLY[cls]):
                    for arguments in [{}, *rng.sample(pool.get(name, []), min(2, len(pool.get(name, []))))]:
                        try:
                            run_simulator(getattr(inst, name), arguments)
                        except Exception:  # noqa: BLE001 - a failing call must not change the state either
                            pass
                        assert dump(inst) == before, (cls, name, arguments)
                        checked += 1
                if cls == "GorillaFileSystem" and caught < 3:  # a writing call changes the dump
                    run_simulator(inst.touch, {"file_name": f"new{checked}.txt"})
                    caught += dump(inst) != before
    assert checked >= 10_000 and caught == 3, (checked, caught)


def _canonical_reference(value):  # BFCL's `_canonical` before its exact-type fast paths (general branches only)
    from collections.abc import Mapping

    if isinstance(value, Mapping):
        return {str(k): _canonical_reference(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [_canonical_reference(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(repr(v) for v in value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if hasattr(value, "__dict__"):
        return {k: _canonical_reference(v) for k, v in sorted(vars(value).items())
                if not k.startswith("_") and k != "parent"}
    return repr(value)


def _reference_public(value):  # one level of `_canonical_reference`, for json's `default`
    from collections.abc import Mapping

    if isinstance(value, set | frozenset):
        return sorted(repr(v) for v in value)
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if hasattr(value, "__dict__"):
        return {k: v for k, v in vars(value).items() if not k.startswith("_") and k != "parent"}
    return repr(value)


def _reference_state_json(value) -> str:  # BFCL's `_state_json` as its docstring defines it
    try:
        return json.dumps(value, sort_keys=True, default=_reference_public)
    except (ValueError, TypeError, RecursionError):
        return json.dumps(_canonical_reference(value), sort_keys=True, default=repr)


def test_bfcl_canonical_fast_paths_match_the_general_form() -> None:
    _make_or_skip("StepTool-BFCL-MultiTurn-v0")
    from steptool_envs.bfcl.suite import _canonical, _state_bytes, _state_json

    class Obj:
        def __init__(self) -> None:
            self.b, self.a, self._hidden, self.parent = (1, 2.5), {3: "x", 10: None, "k": {9, 1}}, 1, "up"

    odd = {10: [True, None], 9: {"z": Obj(), "a": frozenset({"q"})}, "m": ({1: 2},), 1.5: b"raw"}
    assert _canonical(odd) == _canonical_reference(odd)
    # Keys json cannot sort: the general form.
    assert _state_json(odd) == json.dumps(_canonical_reference(odd), sort_keys=True, default=repr)
    loop: dict = {"a": [1]}
    loop["a"].append(loop)
    assert _state_json(loop) == json.dumps(_canonical(loop), default=repr) == '{"a": [1, "<cycle>"]}'
    leaf = Obj()
    leaf.a = {"k": 1}
    plain = {"z": leaf, "s": {"b", "a"}, "n": {2: "two", 10: "ten"}, "t": (1, "x")}
    assert _state_json(plain) == json.dumps(plain, sort_keys=True, default=_reference_public)
    # The digest's bytes: orjson's text for keys json cannot sort; json's where orjson would write NaN as null.
    assert _state_bytes({12345: {"n": 1}, "order_type": "Buy"}) == b'o{"12345":{"n":1},"order_type":"Buy"}'
    assert _state_bytes(odd) == b"j" + _state_json(odd).encode()  # its None takes json's path
    nan, inf, none = (_state_bytes({"x": v}) for v in (float("nan"), float("inf"), None))
    assert len({nan, inf, none}) == 3 and none == b'j{"x": null}'
    assert _state_bytes(loop) == b"j" + _state_json(loop).encode() and _state_bytes({"x": 2**70}).startswith(b"j")
    env = gym.make("StepTool-BFCL-MultiTurn-v0").unwrapped
    for index in range(0, 60, 6):
        env.reset(options={"task_index": index})
        for _ in range(4):
            for inst in env.judge_state.instances.values():
                assert _canonical(inst) == _canonical_reference(inst)
                assert _state_json(inst) == _reference_state_json(inst)
            if env.step(env.oracle_action())[2]:
                break


def test_toolbench_norm_answer_fast_path_equals_the_regex_passes() -> None:
    import random

    from steptool_envs.toolbench import gold

    def reference(text: str) -> str:  # `norm_answer` before its ASCII fast path
        text = gold._NUMBER.sub(gold._canonical_number, text.lower())
        text = gold._LONE_DOT.sub(" ", gold._PUNCT.sub(" ", text))
        return " " + " ".join(text.split()) + " "

    env = gym.make("StepTool-ToolBench-v0").unwrapped
    texts = [t for task in env.suite.tasks[:300] for t in (task.gold.answer, task.query)]
    rng = random.Random(0)
    alphabet = "0123456789.,- aZ_!?\t\x1cé٣"  # digits, separators, punctuation, a non-ASCII digit
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(20_000)]
    texts += ["1,234.50", "007", "-0.0", "3.", ".5", "1..2", "1,2345", "a.b", "x 0.10 y", "10.01"]
    assert [gold.norm_answer(t) for t in texts] == [reference(t) for t in texts]


def _check_tau2_record_comparison(domain: str, tasks: int) -> None:
    _make_or_skip(f"StepTool-Tau2-{domain.title()}-v0")
    from steptool_envs.tau2 import Tau2Env

    env = Tau2Env(domain)
    suite = env.suite
    agreed = {True: 0, False: 0}
    writing = [i for i, t in enumerate(suite.tasks) if any(not suite.read_only[a.name] for a in t.gold.actions)]
    for index in writing[:: max(1, len(writing) // tasks)][:tasks]:
        task = suite.tasks[index]
        gold = suite.gold_world(task)
        writes = [a for a in task.gold.actions if not suite.read_only[a.name]]
        for skip in [None, *writes[-1:]]:  # the gold run, then one without its last write
            env.reset(options={"task_index": index})
            for action in task.gold.actions:
                if action is not skip:
                    env.step(ToolCall(action.name, dict(action.arguments)))
            world = env.judge_state.world
            same = world.same_database(gold)
            assert same == (world.db_hash() == gold.db_hash()), (task.task_id, skip)
            agreed[same] += 1
            # A pickled or deep-copied world holds the same database.
            clone = env.snapshot()["state"].judge_state.world
            assert clone.db.get_hash() == world.db.get_hash() and clone.same_database(world)
    assert agreed[True] > 0 and agreed[False] > 0
    assert suite.db.get_hash() == suite.db_hash  # nothing wrote into the pristine database


# Each check hashes whole databases the τ² way (~0.1 s each on airline): a few tasks here, all in the slow test.
@pytest.mark.parametrize("domain", ["retail", "airline"])
def test_tau2_record_comparison_agrees_with_taus_database_hash(domain: str) -> None:
    pytest.importorskip("tau2")
    _check_tau2_record_comparison(domain, tasks=3)


@pytest.mark.slow
@pytest.mark.parametrize("domain", ["retail", "airline"])
def test_tau2_record_comparison_agrees_on_every_writing_task(domain: str) -> None:
    pytest.importorskip("tau2")
    _check_tau2_record_comparison(domain, tasks=1000)
