"""How the dense scan shares Parquet row groups among its threads (dense._tasks): about equal
rows a task whatever the row-group size, the largest first, every row group read once."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from blanktrack.usage import dense


def parquet(rows: list[int]) -> dense._File:
    return dense._File(Path("invoices.parquet"), {}, rows)


def test_pyarrow_files_of_million_row_groups_split_evenly(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """pyarrow writes row groups of 1,048,576 rows: five files of four made five tasks of four
    (three to one thread, two to the other); by rows it is ten tasks of two, five each."""
    monkeypatch.setattr(dense, "THREADS", 2)
    monkeypatch.setattr(dense, "TASKS_PER_THREAD", 4)
    files = [parquet([1_048_576] * 4) for _ in range(5)]
    assert dense._tasks(files) == [(i, groups) for i in range(5) for groups in ([0, 1], [2, 3])]


def test_small_row_groups_are_gathered_and_the_largest_go_first(monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    monkeypatch.setattr(dense, "THREADS", 2)
    monkeypatch.setattr(dense, "TASKS_PER_THREAD", 1)
    # 1200 rows in all: a share is up to 600; a file's last groups make a smaller share.
    files = [parquet([100] * 4), parquet([600, 100, 100])]
    assert dense._tasks(files) == [(1, [0]), (0, [0, 1, 2, 3]), (1, [1, 2])]


def test_at_most_row_groups_per_task(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dense, "ROW_GROUPS_PER_TASK", 1)
    assert dense._tasks([parquet([3, 3, 3])]) == [(0, [0]), (0, [1]), (0, [2])]


def test_csv_files_are_whole_tasks_the_largest_first(tmp_path: Path) -> None:
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    small.write_text("x\n")
    large.write_text("x\n" * 10)
    files = [dense._File(small, {}, csv=object()),  # type: ignore[arg-type]
             parquet([5]), dense._File(large, {}, csv=object())]  # type: ignore[arg-type]
    assert dense._tasks(files) == [(2, []), (0, []), (1, [0])]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.integers(0, 3000), max_size=12), min_size=1, max_size=6),
       st.integers(1, 3), st.integers(1, 8), st.integers(1, 5))
@example([[0]], 1, 1, 1)  # a row group of no rows
@example([[], [7]], 2, 4, 64)  # a file of no row groups
def test_every_row_group_once_in_file_order_within_a_task(
        sizes: list[list[int]], threads: int, per_thread: int, cap: int) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dense, "THREADS", threads)
        mp.setattr(dense, "TASKS_PER_THREAD", per_thread)
        mp.setattr(dense, "ROW_GROUPS_PER_TASK", cap)
        tasks = dense._tasks([parquet(s) for s in sizes])
    read = sorted((i, g) for i, groups in tasks for g in groups)
    assert read == [(i, g) for i, s in enumerate(sizes) for g in range(len(s))]
    target = max(1, sum(map(sum, sizes)) // (threads * per_thread))
    shares = [sum(sizes[i][g] for g in groups) for i, groups in tasks]
    assert shares == sorted(shares, reverse=True)
    for (_, groups), rows in zip(tasks, shares, strict=True):
        assert groups == list(range(groups[0], groups[0] + len(groups)))  # consecutive
        assert 1 <= len(groups) <= cap
        assert len(groups) == 1 or rows <= target  # a share over the target is one row group
