"""The meta-training episode stream: deterministic, resumable and split
across ranks so that W ranks with meta-batch T see the episodes of one rank
with meta-batch W x T."""
from typing import Iterator, Optional, Sized

from mmengine.dist import get_dist_info
from torch.utils.data import Sampler

from mmmtl.registry import DATA_SAMPLERS


@DATA_SAMPLERS.register_module()
class EpisodeStreamSampler(Sampler):
    """Yields episode indices ``rank, rank + W, rank + 2W, ...`` (modulo the
    dataset length) forever, lazily.

    With a per-rank batch of T, the union of the ranks' batches at step s is
    episodes ``s*W*T .. (s+1)*W*T - 1``: exactly the meta-batch of step s of
    a single rank with batch W x T. Episodes are a function of their index
    (:class:`EpisodicDataset`), so the stream needs no shuffling and a
    resumed run (which skips the batches already trained) continues it.

    Args:
        dataset: the episodic dataset.
        seed: accepted for the Runner's sampler interface; the stream is
            fixed by the dataset's episode seed.
    """

    def __init__(self, dataset: Sized, seed: Optional[int] = None) -> None:
        self.rank, self.world_size = get_dist_info()
        self.size = len(dataset)

    def __iter__(self) -> Iterator[int]:
        index = self.rank
        while True:
            yield index % self.size
            index += self.world_size

    def __len__(self) -> int:
        return self.size
