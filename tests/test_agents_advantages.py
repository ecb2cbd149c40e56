"""Advantages and reward placement against hand-computed values, for every mode."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from steptool_agents.algorithms.returns import (  # noqa: E402
    compat_rewards,
    gae,
    grpo_advantages,
    masked_mean,
    masked_whiten,
    step_positions,
    trajectory_advantages,
)

# One trajectory, prediction-aligned: prompt, action0 (2 tokens), obs, action1 (1 token), obs, action2 (2 tokens).
AMASK = torch.tensor([0, 1, 1, 0, 0, 1, 0, 1, 1], dtype=torch.float32)
SIDX = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2])
VALUES = torch.tensor([9.0, 0.5, 9.0, 9.0, 9.0, 0.25, 9.0, 0.1, 9.0])  # 9.0 where no value should be read
REWARDS = [0.8, 0.5, 1.0]
FINALS = [False, False, True]


def test_gae_matches_hand_computation() -> None:
    adv, ret = gae(torch.tensor([1.0, 0.0, 2.0]), torch.tensor([0.5, 0.4, 0.3]), gamma=0.9, lam=0.8)
    d2 = 2.0 - 0.3
    d1 = 0.0 + 0.9 * 0.3 - 0.4
    d0 = 1.0 + 0.9 * 0.4 - 0.5
    a2, a1 = d2, d1 + 0.72 * d2
    a0 = d0 + 0.72 * a1
    assert adv.tolist() == pytest.approx([a0, a1, a2])
    assert ret.tolist() == pytest.approx([a0 + 0.5, a1 + 0.4, a2 + 0.3])


def test_step_positions_are_first_and_last_action_tokens() -> None:
    assert step_positions(AMASK, SIDX) == {0: (1, 2), 1: (5, 5), 2: (7, 8)}


def test_steptool_mode_step_gae_broadcast_to_action_tokens() -> None:
    g, lam = 0.9, 0.5
    adv, ret, vmask = trajectory_advantages("step_gae", REWARDS, FINALS, VALUES, AMASK, SIDX, g, lam)
    v = [0.5, 0.25, 0.1]  # V(s_t) at the first action position of each step
    d = [0.8 + g * v[1] - v[0], 0.5 + g * v[2] - v[1], 1.0 - v[2]]
    a2 = d[2]
    a1 = d[1] + g * lam * a2
    a0 = d[0] + g * lam * a1
    assert adv.tolist() == pytest.approx([0, a0, a0, 0, 0, a1, 0, a2, a2])
    assert vmask.tolist() == [0, 1, 0, 0, 0, 1, 0, 1, 0]
    assert ret[[1, 5, 7]].tolist() == pytest.approx([a0 + v[0], a1 + v[1], a2 + v[2]])


def test_no_step_reward_zeroes_intermediate_rewards() -> None:
    adv, _, _ = trajectory_advantages("outcome_step_gae", REWARDS, FINALS, VALUES, AMASK, SIDX, 1.0, 1.0)
    # γ = λ = 1: Â_t = (sum of remaining rewards) − V(s_t) = 1.0 − V(s_t)
    assert adv[[1, 5, 7]].tolist() == pytest.approx([1.0 - 0.5, 1.0 - 0.25, 1.0 - 0.1])


def test_kl_penalty_enters_step_reward() -> None:
    kl = torch.tensor([0, 0.1, 0.3, 0, 0, 0.2, 0, 0.0, 0.5])
    adv, _, _ = trajectory_advantages("step_gae", REWARDS, FINALS, VALUES, AMASK, SIDX, 0.0, 0.0, kl, 2.0)
    # γ = 0: Â_t = r_t − β Σ kl_t − V(s_t)
    assert adv[[1, 5, 7]].tolist() == pytest.approx([0.8 - 0.8 - 0.5, 0.5 - 0.4 - 0.25, 1.0 - 1.0 - 0.1])


def test_final_mode_token_level_gae_over_action_tokens() -> None:
    values = torch.tensor([0, 0.1, 0.2, 0, 0, 0.3, 0, 0.4, 0.5])
    adv, ret, vmask = trajectory_advantages("outcome_token_gae", REWARDS, FINALS, values, AMASK, SIDX, 1.0, 1.0)
    # γ = λ = 1 over action tokens only: Â = final reward − V(token), intermediate rewards dropped
    expected = [0, 0.9, 0.8, 0, 0, 0.7, 0, 0.6, 0.5]
    assert adv.tolist() == pytest.approx(expected)
    assert vmask.tolist() == AMASK.tolist()
    assert ret.tolist() == pytest.approx([1.0 * m for m in AMASK.tolist()])


def test_final_mode_discounts_per_step_and_final_token_per_token() -> None:
    values = torch.zeros(9)
    g = 0.5
    step, _, _ = trajectory_advantages("outcome_token_gae", REWARDS, FINALS, values, AMASK, SIDX, g, 1.0)
    token, _, _ = trajectory_advantages("outcome_token_discount", REWARDS, FINALS, values, AMASK, SIDX, g, 1.0)
    # action tokens 1,2 | 5 | 7,8; final reward 1.0 at 8. Per step: γ^(steps to go); per token: γ^(tokens to go).
    assert step.tolist() == pytest.approx([0, g ** 2, g ** 2, 0, 0, g, 0, 1.0, 1.0])
    assert token.tolist() == pytest.approx([0, g ** 4, g ** 3, 0, 0, g ** 2, 0, g, 1.0])


def test_no_step_opt_is_token_level_ppo_on_step_rewards() -> None:
    values = torch.tensor([0, 0.1, 0.2, 0, 0, 0.3, 0, 0.4, 0.5])
    g = 0.5
    adv, ret, vmask = trajectory_advantages("step_token_gae", REWARDS, FINALS, values, AMASK, SIDX, g, 1.0)
    # λ = 1: Â_p = discounted (per step) sum of the step rewards still to come − V(p); every action token regresses
    g1 = 0.8 + g * (0.5 + g * 1.0)
    g5 = 0.5 + g * 1.0
    assert adv.tolist() == pytest.approx([0, g1 - 0.1, g1 - 0.2, 0, 0, g5 - 0.3, 0, 1.0 - 0.4, 1.0 - 0.5])
    assert ret[[1, 2, 5, 7, 8]].tolist() == pytest.approx([g1, g1, g5, 1.0, 1.0])
    assert vmask.tolist() == AMASK.tolist()


def test_compat_rewards_match_official_placement() -> None:
    assert compat_rewards([0.8, 0.5, 1.0]) == pytest.approx([1.6, 0.5, 0.0])


def test_compat_mode_token_gae_through_zeroed_observations() -> None:
    values = torch.zeros(9)
    g, lam = 0.5, 1.0
    adv, _, _ = trajectory_advantages("official_tokens", REWARDS, FINALS, values, AMASK, SIDX, g, lam)
    # rewards [1.6, 0.5, 0.0] at positions 2, 5, 8; zero values: Â_p = Σ_k γ^(k−p) r_k over all later positions
    a8 = 0.0
    a5 = 0.5 + g ** 3 * a8
    a2 = 1.6 + g ** 3 * a5
    a1 = g * a2
    a7 = g * a8
    assert adv.tolist() == pytest.approx([0, a1, a2, 0, 0, a5, 0, a7, a8])


def test_left_truncated_trajectory_uses_remaining_steps() -> None:
    amask, sidx = AMASK[5:], SIDX[5:]  # step 0 cut away
    adv, _, vmask = trajectory_advantages("step_gae", REWARDS, FINALS, VALUES[5:], amask, sidx, 1.0, 1.0)
    assert adv.tolist() == pytest.approx([1.5 - 0.25, 0, 1.0 - 0.1, 1.0 - 0.1])
    assert vmask.tolist() == [1, 0, 1, 0]


def test_unknown_credit_assignment_raises() -> None:
    with pytest.raises(ValueError):
        trajectory_advantages("bogus", REWARDS, FINALS, VALUES, AMASK, SIDX, 1.0, 1.0)


def test_grpo_advantages_group_relative() -> None:
    adv = grpo_advantages([1.0, 0.0, 0.0, 1.0, 0.5, 0.5], group_size=2, scale_by_std=False)
    assert adv.tolist() == pytest.approx([0.5, -0.5, -0.5, 0.5, 0.0, 0.0])
    scaled = grpo_advantages([1.0, 0.0], group_size=2)
    assert scaled.tolist() == pytest.approx([0.5 / 0.7071, -0.5 / 0.7071], rel=1e-3)
    with pytest.raises(ValueError):
        grpo_advantages([1.0, 0.0, 1.0], group_size=2)


def test_masked_mean_and_whiten_ignore_masked_positions() -> None:
    x = torch.tensor([1.0, 2.0, 3.0, 100.0])
    mask = torch.tensor([1.0, 1.0, 1.0, 0.0])
    assert float(masked_mean(x, mask)) == pytest.approx(2.0)
    w = masked_whiten(x, mask)
    assert w[3] == 0.0
    assert float(masked_mean(w, mask)) == pytest.approx(0.0, abs=1e-6)
    assert float(((w[:3]) ** 2).sum() / 2) == pytest.approx(1.0, rel=1e-4)  # unbiased variance 1
