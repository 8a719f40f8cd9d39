"""EpisodeStreamSampler without torchrun: W ranks' per-rank batches of T
together are, step by step, the single-rank stream's batches of W x T."""
import itertools

import pytest

from mmmtl.datasets import samplers
from mmmtl.datasets.samplers import EpisodeStreamSampler


def batches(monkeypatch, rank, world_size, size, batch, steps):
    """The first ``steps`` batches of ``batch`` indices of one rank."""
    monkeypatch.setattr(samplers, 'get_dist_info',
                        lambda: (rank, world_size))
    stream = iter(EpisodeStreamSampler(range(size)))
    return [list(itertools.islice(stream, batch)) for _ in range(steps)]


@pytest.mark.parametrize('world_size,size', [(2, 1000), (3, 1000), (2, 7)])
def test_ranks_together_make_the_single_rank_batches(monkeypatch,
                                                     world_size, size):
    """Step s: the union of the ranks' batches is the single-rank batch s
    with W x T episodes, each index once; rank r takes every W-th from r
    (the order the gradient average is independent of). With a dataset
    shorter than the stream (7) the indices wrap modulo its length."""
    per_rank, steps = 4, 5
    single = batches(monkeypatch, 0, 1, size, world_size * per_rank, steps)
    ranks = [
        batches(monkeypatch, r, world_size, size, per_rank, steps)
        for r in range(world_size)
    ]
    for step in range(steps):
        together = [i for r in range(world_size) for i in ranks[r][step]]
        assert sorted(together) == sorted(single[step])
        for r in range(world_size):
            assert ranks[r][step] == single[step][r::world_size]
    expected = [[(s * world_size * per_rank + k) % size
                 for k in range(world_size * per_rank)]
                for s in range(steps)]
    assert single == expected
