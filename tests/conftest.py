"""Fixtures shared by several test modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture
def one_thread() -> Iterator[None]:
    """One torch thread for the test: on a shared 2-core CPU multi-threaded small matmuls are ~10x slower, and
    measurements taken with one thread reproduce only with one (float sums depend on the thread count)."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
