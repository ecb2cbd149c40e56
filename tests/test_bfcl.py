"""StepTool-BFCL-MultiTurn-v0: gold replay of every entry, BFCL's checks, reward arithmetic, robustness."""

from __future__ import annotations

import pickle
import subprocess
import sys

import gymnasium as gym
import pytest

pytest.importorskip("bfcl_eval", reason="bfcl-eval is not installed (pip install --no-deps bfcl-eval)")

import steptool_gym  # noqa: F401 - registers the envs
from steptool_envs.bfcl import CATEGORIES, BFCLMultiTurnEnv, load_bfcl
from steptool_envs.bfcl.suite import parse_call, run_simulator
from steptool_gym import Status, ToolCall
from steptool_gym.errors import DataError

ENV_ID = "StepTool-BFCL-MultiTurn-v0"
BASE_0 = "multi_turn_base_0"  # file system: cd/mkdir/mv, then grep, sort, diff over four turns


def _finish(answer: str = "Done.") -> ToolCall:
    return ToolCall("Finish", {"return_type": "give_answer", "final_answer": answer})


def _replay(env: BFCLMultiTurnEnv, index: int) -> dict:
    env.reset(options={"task_index": index})
    while True:
        _, _, terminated, truncated, info = env.step(env.oracle_action())
        if terminated or truncated:
            return info


@pytest.mark.parametrize("category", CATEGORIES)
def test_gold_replay_solves_every_entry(category):
    env = BFCLMultiTurnEnv(category)
    assert len(env.suite.tasks) == 200
    unsolved = [t.task_id for i, t in enumerate(env.suite.tasks) if _replay(env, i).get("is_solved") != 1.0]
    assert unsolved == []


def test_parse_call_is_literal_only():
    assert parse_call("sort('final_report.pdf')") == ("sort", ("final_report.pdf",), {})
    assert parse_call("ls(a=True)") == ("ls", (), {"a": True})
    assert parse_call("mean(numbers=[1, 2.5])") == ("mean", (), {"numbers": [1, 2.5]})
    for bad in ("cd(folder=os.getcwd())", "__import__('os').system('x')", "a.b(c=1)", "f(**kw)", "1 + 2", "cd("):
        with pytest.raises(DataError):
            parse_call(bad)


def test_reward_arithmetic_on_a_hand_example():
    env = gym.make(ENV_ID, alpha=2.0, reward_mode="step").unwrapped
    obs, info = env.reset(options={"task_id": BASE_0})
    assert "Move 'final_report.pdf'" in obs and "Finish" in obs
    # A ground-truth call that succeeds: SC = 1, Con = 5 -> (2*1 + 5/5) / 3 = 1.
    _, r, term, _, info = env.step(ToolCall("cd", {"folder": "document"}))
    assert (r, info["status"], info["gold_call"], info["reward_components"]["Con"]) == (1.0, 0, True, 5.0)
    # A successful call that is not ground truth: SC = 1, Con = 0 -> 2/3.
    _, r, _, _, info = env.step(ToolCall("ls", {}))
    assert r == pytest.approx(2 / 3) and info["gold_call"] is False
    # The simulator answers {"error": ...}: SC = 0 and the status says so.
    obs, r, _, _, info = env.step(ToolCall("cd", {"folder": "no_such_folder"}))
    assert (r, info["status"]) == (0.0, Status.MESSAGE_ERROR) and "no_such_folder" in obs
    # The same ground-truth call again, now from inside document/, fails and matches nothing new.
    _, r, _, _, info = env.step(ToolCall("cd", {"folder": "document"}))
    assert (r, info["reward_components"]["Con"]) == (0.0, 0.0)
    # Ending turn 0 with mkdir/mv missing: SC = 1, Con = 0 (BFCL fails the turn) -> 2/3; the next user turn
    # is the observation.
    obs, r, term, trunc, info = env.step(_finish())
    assert (r, term, trunc, info["turn"], info["gold_call"]) == (pytest.approx(2 / 3), False, False, 1, False)
    assert obs.startswith("User: Perform a detailed search using grep")
    assert info["turn_check"]["valid"] is False
    assert info["turn_check"]["error_type"] == "multi_turn:instance_state_mismatch"
    # Turns 1-3 ended without any call: BFCL's empty-turn failure; the episode is unsolved.
    for turn in (1, 2):
        _, r, term, _, info = env.step(_finish())
        assert not term and info["turn"] == turn + 1 and r == pytest.approx(2 / 3)
        assert info["turn_check"]["error_type"] == "multi_turn:empty_turn_model_response"
    _, r, term, _, info = env.step(_finish())
    assert (r, term, info["is_solved"], info["status"]) == (0.0, True, 0.0, Status.FINAL_ANSWER)
    roles = [m["role"] for m in env.messages]
    assert roles[:2] == ["system", "user"] and roles[-2:] == ["assistant", "tool"]
    assert env.messages[11] == {"role": "user", "content": env.task.metadata["turns"][1]}


def test_a_passed_turn_scores_like_a_gold_call():
    env = gym.make(ENV_ID, reward_mode="step").unwrapped
    env.reset(options={"task_id": BASE_0})
    for _ in range(3):  # cd, mkdir, mv
        assert env.step(env.oracle_action())[1] == 1.0
    _, r, _, _, info = env.step(_finish())
    assert (r, info["reward_components"], info["gold_call"]) == (1.0, {"SC": 1.0, "Con": 5.0, "IsSolved": None}, True)
    assert info["turn_check"] == {"turn": 0, "valid": True, "checked": True}


def test_give_up_ends_the_whole_episode():
    env = gym.make(ENV_ID).unwrapped
    env.reset(options={"task_id": BASE_0})
    _, r, term, _, info = env.step(ToolCall("Finish", {"return_type": "give_up_and_restart"}))
    assert (r, term, info["status"], info["is_solved"]) == (0.0, True, Status.GIVE_UP, 0.0)


def test_malformed_calls_give_error_statuses():
    env = gym.make(ENV_ID).unwrapped
    env.reset(options={"task_id": BASE_0})
    cases = [
        (ToolCall("rm_rf", {}), Status.NO_SUCH_FUNCTION),
        (ToolCall("cd", {}), Status.INPUT_ERROR),  # missing required parameter
        (ToolCall("cd", {"folder": "document", "force": True}), Status.INPUT_ERROR),  # unknown parameter
        (ToolCall("mkdir", {"dir_name": ["not", "a", "name"]}), None),  # reaches the simulator, which objects
        ('{"name": "cd", "arguments": {"folder": ', Status.INPUT_ERROR),  # truncated JSON
        ("Thought: hmm\nAction:", Status.NO_SUCH_FUNCTION),
        ({"name": "Finish", "arguments": {"return_type": "maybe"}}, Status.INPUT_ERROR),
        (ToolCall("add", {"a": 1, "b": 2}), Status.NO_SUCH_FUNCTION),  # MathAPI is not part of this entry
    ]
    for action, expected in cases:
        _, reward, terminated, _, info = env.step(action)
        assert not terminated and reward == 0.0
        assert info["status"] == expected if expected is not None else info["status"] != Status.OK
    assert env.judge_state.turn == 0


def test_held_out_functions_are_revealed_in_their_turn():
    env = BFCLMultiTurnEnv("miss_func")
    env.reset(options={"task_id": "multi_turn_miss_func_0"})  # 'sort' is held out until turn 3
    assert "sort" not in [t["name"] for t in env.tools] and '"name": "sort"' not in env.messages[0]["content"]
    while env.judge_state.turn < 3:
        obs, *_ = env.step(env.oracle_action())
    assert '"name": "sort"' in obs and "I have updated some more functions" in obs
    assert [t["name"] for t in env.tools][-2:] == ["sort", "Finish"]
    _, _, _, _, info = env.step(env.oracle_action())
    assert env.history[-1].call.name == "sort" and info["status"] == Status.OK and info["gold_call"]


def _trajectory(seed: int) -> list:
    env = gym.make(ENV_ID, category="long_context").unwrapped
    out: list = [env.reset(seed=seed)]
    done = False
    while not done:
        out.append(env.step(env.oracle_action()))
        done = out[-1][2] or out[-1][3]
    return out


def test_same_seed_same_episode():
    assert _trajectory(3) == _trajectory(3)


def test_pickle_snapshot_and_state_key():
    def run(env, actions):
        return [env.step(a)[:2] for a in actions]

    env = gym.make(ENV_ID).unwrapped
    env.reset(options={"task_id": BASE_0})
    start_key = env.state_key()
    env.step(env.oracle_action())  # cd document
    snap, key = env.snapshot(), env.state_key()
    assert key != start_key and len(key) == 32 and int(key, 16) >= 0
    clone = pickle.loads(pickle.dumps(env))
    assert clone.suite is env.suite and clone.state_key() == key
    rest = [env.oracle_action() for _ in range(2)]
    assert run(clone, rest) == run(env, rest)
    assert clone.judge_state.instances is not env.judge_state.instances
    env.restore(snap)
    assert env.state_key() == key
    env.step(ToolCall("mkdir", {"dir_name": "elsewhere"}))
    assert env.state_key() not in (key, clone.state_key())


def test_snapshots_share_simulators_until_a_write():
    """Snapshot/restore copy no simulator; the first writing call on either side copies it first, so branches
    from one snapshot never see each other's writes (public and private state, the cached keys too)."""
    env = gym.make(ENV_ID).unwrapped
    env.reset(options={"task_id": BASE_0})
    env.step(env.oracle_action())  # cd document
    snap, key = env.snapshot(), env.state_key()
    frozen = pickle.dumps(snap["state"].judge_state.instances)
    assert snap["state"].judge_state.instances["GorillaFileSystem"] is env.judge_state.instances["GorillaFileSystem"]
    env.step(ToolCall("ls", {}))  # read-only: still shared
    assert snap["state"].judge_state.instances["GorillaFileSystem"] is env.judge_state.instances["GorillaFileSystem"]
    branches = []
    for folder in ("one", "two"):
        env.restore(snap)
        assert env.state_key() == key
        env.step(ToolCall("mkdir", {"dir_name": folder}))
        env.step(ToolCall("cd", {"folder": folder}))
        branches.append((env.state_key(), env.step(ToolCall("pwd", {}))[0], env.step(ToolCall("ls", {}))[0]))
        assert pickle.dumps(snap["state"].judge_state.instances) == frozen
    assert branches[0][0] != branches[1][0] and "one" in branches[0][1] and "one" not in branches[1][2]
    env.restore(snap)
    assert env.state_key() == key and "one" not in env.step(ToolCall("ls", {}))[0]


def test_self_referencing_state_keeps_a_state_key():
    """``mkdir ''`` then ``cp '' ''`` puts a directory inside its own contents (the "cycle" adversary found it):
    every later step still returns a state key, which the self-reference changes, and pickling still works."""
    env = gym.make(ENV_ID).unwrapped
    env.reset(options={"task_id": BASE_0})
    env.step(ToolCall("mkdir", {"dir_name": ""}))
    before = env.state_key()
    _, _, _, _, info = env.step(ToolCall("cp", {"source": "", "destination": ""}))
    assert info["state_key"] != before and len(info["state_key"]) == 32
    for call in (ToolCall("ls", {}), ToolCall("find", {}), ToolCall("cd", {"folder": ""}), ToolCall("pwd", {})):
        assert len(env.step(call)[-1]["state_key"]) == 32
    assert pickle.loads(pickle.dumps(env)).state_key() == env.state_key()


def test_canonical_state_is_bounded_on_any_object_graph():
    from steptool_envs.bfcl.suite import _MAX_DEPTH, _canonical

    loop: dict = {"a": [1]}
    loop["a"].append(loop)
    assert _canonical(loop) == {"a": [1, "<cycle>"]}
    shared = [0]
    assert _canonical({"x": shared, "y": shared}) == {"x": [0], "y": [0]}  # shared, not cyclic: both kept
    deep: list = []
    node = deep
    for _ in range(10 * sys.getrecursionlimit()):
        node.append([])
        node = node[0]
    out, depth = _canonical(deep), 0
    while isinstance(out, list):
        out, depth = out[0], depth + 1
    assert out == "<deep>" and depth == _MAX_DEPTH


def test_episodes_do_not_share_simulators():
    a, b = BFCLMultiTurnEnv(), BFCLMultiTurnEnv()
    a.reset(options={"task_id": BASE_0})
    b.reset(options={"task_id": BASE_0})
    a.step(ToolCall("cd", {"folder": "document"}))
    a.step(ToolCall("mkdir", {"dir_name": "temp"}))
    assert "temp" not in b.step(ToolCall("ls", {}))[0] and b.suite is a.suite


def test_suite_is_cached_and_pickles_by_reference():
    suite = load_bfcl("base")
    assert load_bfcl("base") is suite and pickle.loads(pickle.dumps(suite)) is suite
    assert len(pickle.dumps(suite)) < 200
    with pytest.raises(ValueError, match="category"):
        BFCLMultiTurnEnv("composite")


@pytest.mark.parametrize(("module", "named"), [("bfcl_eval", "--no-deps bfcl-eval"), ("orjson", "(orjson is not")])
def test_missing_package_names_the_extra(module, named):
    code = (f"import sys; sys.modules[{module!r}] = None\n"
            "import gymnasium as gym, steptool_gym\n"
            "from steptool_gym.errors import MissingExtraError\n"
            "try:\n    gym.make('StepTool-BFCL-MultiTurn-v0')\n"
            "except MissingExtraError as exc:\n    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout
    assert "pip install 'steptool-gym[bfcl]'" in out and named in out


@pytest.mark.parametrize(("raw", "problem"), [
    (b'{"id": "a", "question": []}\n{"id": "b", "question": [}\n', "line 2: not valid JSON"),
    (b'{"id": "a", "question": []}\n\n["id"]\n', "line 3: expected a JSON object, got list"),
    (b'{"id": "a", "question": []}\n{"question": []}\n', "line 2: lacks id"),
    (b'{"id": "a", "question": []}\n{"id": "caf\xe9"}\n', "line 2: not UTF-8 text"),
    (b"__import__('os').system('true')\n", "line 1: not valid JSON"),
])
def test_jsonl_loader_names_file_line_and_problem(tmp_path, raw, problem):
    from steptool_envs.bfcl.suite import _read_jsonl

    path = tmp_path / "BFCL_v4_multi_turn_base.json"
    path.write_bytes(raw)
    with pytest.raises(DataError, match=rf"BFCL_v4_multi_turn_base.json {problem}"):
        _read_jsonl(path, ("id", "question"))


def test_a_simulators_list_defaults_do_not_leak_between_instances() -> None:
    # TwitterAPI.post_tweet(mentions=[]) stores the default list in the tweet; mention() extends it in place.
    posting = pytest.importorskip("bfcl_eval.eval_checker.multi_turn_eval.func_source_code.posting_api")
    default = posting.TwitterAPI.post_tweet.__defaults__
    for _ in range(2):
        api = posting.TwitterAPI()
        api._load_scenario({"username": "u", "password": "p", "authenticated": True, "tweets": {},
                            "comments": {}, "retweets": {}, "following_list": [], "tweet_counter": 0})
        tweet, _ = run_simulator(api.post_tweet, {"content": "hi"})
        assert tweet["mentions"] == []
        run_simulator(api.mention, {"tweet_id": tweet["id"], "mentioned_usernames": ["x"]})
    assert posting.TwitterAPI.post_tweet.__defaults__ == default == ([], [])
