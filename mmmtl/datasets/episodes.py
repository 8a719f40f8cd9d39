"""Episodic sampling: an N-way K-shot episode as a pure function of
(seed, episode index), and the dataset wrapper that yields episodes."""
from typing import List, NamedTuple, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dataset import BaseDataset

from mmmtl.registry import DATASETS, FUNCTIONS


class Episode(NamedTuple):
    """Indices of one episode into the wrapped dataset.

    ``classes`` are global class labels (episode label = position in
    ``classes``); ``support`` is class-major (the K shots of class 0, then of
    class 1, ...), and so is ``query``.
    """
    classes: np.ndarray
    support: np.ndarray
    query: np.ndarray


def sample_episode(class_to_indices: Sequence[np.ndarray],
                   num_ways: int,
                   num_shots: int,
                   num_queries: int,
                   seed: int,
                   index: int,
                   classes: Optional[Sequence[int]] = None) -> Episode:
    """Draw episode ``index`` of the stream defined by ``seed``.

    The random generator is keyed by (seed, index) only, so an episode is the
    same in every run, process, rank and after a resume, whatever episodes
    were drawn before it. Classes are distinct; support and query images of a
    class are disjoint. ``classes`` (``num_ways`` global labels) fixes the
    classes and draws only the images (hard-task episodes).
    """
    num_classes = len(class_to_indices)
    if num_ways > num_classes:
        raise ValueError(f'cannot draw {num_ways}-way episodes from '
                         f'{num_classes} classes')
    rng = np.random.default_rng([seed, index])
    if classes is None:
        classes = rng.choice(num_classes, size=num_ways, replace=False)
    else:
        classes = np.asarray(classes)
        if len(set(classes.tolist())) != num_ways:
            raise ValueError(f'an episode needs {num_ways} distinct classes, '
                             f'got {classes.tolist()}')
    support, query = [], []
    for c in classes:
        pool = class_to_indices[c]
        if len(pool) < num_shots + num_queries:
            raise ValueError(f'class {c} has {len(pool)} images, fewer than '
                             f'{num_shots} shots + {num_queries} queries')
        picked = pool[rng.choice(
            len(pool), size=num_shots + num_queries, replace=False)]
        support.append(picked[:num_shots])
        query.append(picked[num_shots:])
    return Episode(classes, np.concatenate(support), np.concatenate(query))


@DATASETS.register_module()
class EpisodicDataset:
    """Wraps a :class:`FewShotDataset`; item ``i`` is episode ``i``.

    An item is a dict: ``img`` (support images then query images, stacked),
    ``gt_label`` (global class labels), ``episode_label`` (0..N-1),
    ``indices`` (into the wrapped dataset) and the episode shape
    (``num_ways``, ``num_shots``, ``num_queries``).

    Args:
        dataset: the wrapped dataset (config or object).
        num_ways, num_shots, num_queries: episode shape (N, K, Q).
        num_episodes: length; for training, meta-iterations x meta-batch.
        seed: the episode stream's seed.
    """

    def __init__(self,
                 dataset: Union[dict, BaseDataset],
                 num_ways: int,
                 num_shots: int,
                 num_queries: int,
                 num_episodes: int,
                 seed: int = 0) -> None:
        self.dataset = (
            DATASETS.build(dataset) if isinstance(dataset, dict) else dataset)
        bounds = (('num_ways', num_ways, 1), ('num_shots', num_shots, 1),
                  ('num_queries', num_queries, 0), ('num_episodes',
                                                    num_episodes, 1))
        for name, value, low in bounds:
            if not isinstance(value, int) or value < low:
                raise ValueError(f'EpisodicDataset: {name} must be an int '
                                 f'>= {low}, got {value!r}')
        self.num_ways = num_ways
        self.num_shots = num_shots
        self.num_queries = num_queries
        self.num_episodes = num_episodes
        self.seed = seed
        if num_ways > self.dataset.num_classes:
            raise ValueError(
                f'EpisodicDataset: {num_ways}-way episodes need at least '
                f'{num_ways} classes; {type(self.dataset).__name__} split '
                f'{getattr(self.dataset, "split", "?")!r} '
                f'({self.dataset.data_root}) has '
                f'{self.dataset.num_classes} classes')
        self.dataset.check_images_per_class(
            num_shots + num_queries,
            f'(episodes need {num_shots} shots + {num_queries} queries)')

    @property
    def metainfo(self) -> dict:
        return self.dataset.metainfo

    def __len__(self) -> int:
        return self.num_episodes

    def episode(self, index: int) -> Episode:
        if not 0 <= index < self.num_episodes:
            raise IndexError(f'episode {index} out of range '
                             f'[0, {self.num_episodes})')
        return sample_episode(self.dataset.class_to_indices, self.num_ways,
                              self.num_shots, self.num_queries, self.seed,
                              index)

    def episode_of_classes(self, classes: Sequence[int], seed: int,
                           index: int) -> dict:
        """An item whose classes are ``classes`` (global labels), images
        drawn by the stream (``seed``, ``index``): hard-task re-sampling."""
        return self.item(
            sample_episode(self.dataset.class_to_indices, self.num_ways,
                           self.num_shots, self.num_queries, seed, index,
                           classes))

    def __getitem__(self, index: int) -> dict:
        return self.item(self.episode(index))

    def item(self, ep: Episode) -> dict:
        """The images and labels of an episode."""
        indices = np.concatenate([ep.support, ep.query])
        items = [self.dataset[int(i)] for i in indices]
        episode_label = np.concatenate([
            np.repeat(np.arange(self.num_ways), self.num_shots),
            np.repeat(np.arange(self.num_ways), self.num_queries)
        ])
        return dict(
            img=torch.stack([item['img'] for item in items]),
            gt_label=torch.as_tensor([item['gt_label'] for item in items]),
            episode_label=torch.from_numpy(episode_label),
            indices=torch.from_numpy(indices),
            num_ways=self.num_ways,
            num_shots=self.num_shots,
            num_queries=self.num_queries)


_EPISODE_SHAPE = ('num_ways', 'num_shots', 'num_queries')


@FUNCTIONS.register_module()
def episode_collate(batch: List[dict]) -> dict:
    """Stack T episodes of one shape into a meta-batch (tensors [T, M, ...])."""
    shapes = {tuple(item[k] for k in _EPISODE_SHAPE) for item in batch}
    if len(shapes) != 1:
        raise ValueError(f'a meta-batch mixes episode shapes {shapes}')
    out = {k: batch[0][k] for k in _EPISODE_SHAPE}
    for key in batch[0]:
        if key not in _EPISODE_SHAPE:
            out[key] = torch.stack([item[key] for item in batch])
    return out
