"""An episodic batch split into its support and query sets."""
from typing import NamedTuple, Tuple

from torch import Tensor


class EpisodeSplit(NamedTuple):
    """T episodes of a batch, each cut into its N*K support images (first,
    class-major, as :class:`EpisodicDataset` lays them out) and its
    queries; every tensor keeps the leading task dimension T.

    Attributes:
        support_x: support images [T, N*K, C, H, W].
        support_y: their episode labels (0..N-1) [T, N*K].
        query_x: query images [T, N*Q, C, H, W].
        query_y: their episode labels [T, N*Q].
        num_ways: N.
        num_shots: K.
    """

    support_x: Tensor
    support_y: Tensor
    query_x: Tensor
    query_y: Tensor
    num_ways: int
    num_shots: int

    @classmethod
    def from_batch(cls, inputs: Tensor, data_samples: dict,
                   where: str) -> 'EpisodeSplit':
        """Split a preprocessed episodic batch (``inputs`` [T, M, C, H, W],
        ``data_samples`` with ``episode_label``, ``num_ways``,
        ``num_shots``); a plain batch is an error naming ``where``.

        Example:
            >>> import torch
            >>> inputs = torch.arange(6.).view(1, 6, 1, 1, 1)  # T = 1
            >>> episodes = EpisodeSplit.from_batch(
            ...     inputs,  # 2-way 1-shot, 2 queries per class
            ...     dict(episode_label=torch.tensor([[0, 1, 0, 0, 1, 1]]),
            ...          num_ways=2, num_shots=1), 'demo')
            >>> episodes.support_y, episodes.query_y
            (tensor([[0, 1]]), tensor([[0, 0, 1, 1]]))
            >>> episodes.query_x.flatten()
            tensor([2., 3., 4., 5.])
        """
        if (inputs.dim() != 5 or data_samples is None
                or 'episode_label' not in data_samples):
            raise ValueError(
                f'{where} needs episodic batches [T, M, C, H, W] with '
                'episode labels (EpisodicDataset + episode_collate)')
        ways, shots = data_samples['num_ways'], data_samples['num_shots']
        support_y, query_y = _cut(data_samples['episode_label'], ways * shots)
        support_x, query_x = _cut(inputs, ways * shots)
        return cls(support_x, support_y, query_x, query_y, ways, shots)

    def split(self, per_image: Tensor) -> Tuple[Tensor, Tensor]:
        """The support and query parts of another per-image tensor of these
        episodes [T, M, ...] (features, global labels)."""
        return _cut(per_image, self.num_ways * self.num_shots)


def _cut(per_image: Tensor, num_support: int) -> Tuple[Tensor, Tensor]:
    return per_image[:, :num_support], per_image[:, num_support:]
