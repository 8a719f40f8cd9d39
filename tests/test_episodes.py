import subprocess
import sys

import numpy as np
import pytest
import torch

from mmmtl.datasets import EpisodicDataset, Omniglot, sample_episode
from mmmtl.datasets.episodes import episode_collate

POOLS = [np.arange(c * 20, (c + 1) * 20) for c in range(30)]


def test_episode_is_well_formed():
    for index in range(50):
        ep = sample_episode(POOLS, 5, 3, 4, seed=7, index=index)
        assert len(set(ep.classes.tolist())) == 5  # no class repeated
        assert ep.support.shape == (15, ) and ep.query.shape == (20, )
        assert not set(ep.support) & set(ep.query)  # disjoint
        # class-major: shot k of class i is at i * K + k, drawn from class i
        for i, c in enumerate(ep.classes):
            assert set(ep.support[i * 3:(i + 1) * 3]) <= set(POOLS[c])
            assert set(ep.query[i * 4:(i + 1) * 4]) <= set(POOLS[c])


def test_episode_is_pure_function_of_seed_and_index():
    a = sample_episode(POOLS, 5, 1, 5, seed=3, index=11)
    # drawing other episodes first changes nothing
    for i in range(20):
        sample_episode(POOLS, 5, 1, 5, seed=3, index=i)
    np.random.seed(123)
    torch.manual_seed(123)
    b = sample_episode(POOLS, 5, 1, 5, seed=3, index=11)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    c = sample_episode(POOLS, 5, 1, 5, seed=4, index=11)
    d = sample_episode(POOLS, 5, 1, 5, seed=3, index=12)
    assert not np.array_equal(a.support, c.support)
    assert not np.array_equal(a.support, d.support)


# Golden episodes: what sample_episode(POOLS, 3, 2, 1, seed, index) drew
# when this list was written (copied from the code's output, not derived).
# Every published number rests on the test episodes of a seed staying the
# same; a change of the sampler (or of numpy's generator) that moves them
# fails here. (seed, index): (classes, support, query)
GOLDEN = {
    (0, 0): ([18, 15, 23], [379, 361, 311, 310, 473, 470], [360, 317, 472]),
    (0, 1): ([29, 14, 25], [584, 594, 284, 281, 500, 518], [599, 285, 514]),
    (1, 0): ([14, 13, 22], [295, 298, 268, 275, 452, 450], [282, 265, 447]),
    (7, 123456): ([15, 11, 9], [318, 319, 233, 221, 198, 185],
                  [312, 238, 184]),
}
# the hard-task form: classes given, images drawn by (seed 0, index 5)
GOLDEN_FIXED = ([4, 17, 9], [96, 92, 359, 347, 191, 184], [87, 345, 193])


def test_golden_episodes():
    for (seed, index), expected in GOLDEN.items():
        episode = sample_episode(POOLS, 3, 2, 1, seed=seed, index=index)
        assert tuple(a.tolist() for a in episode) == expected, (seed, index)
    fixed = sample_episode(POOLS, 3, 2, 1, seed=0, index=5,
                           classes=[4, 17, 9])
    assert tuple(a.tolist() for a in fixed) == GOLDEN_FIXED


def test_episode_identical_in_another_process():
    code = ('import numpy as np; from mmmtl.datasets import sample_episode;'
            'pools=[np.arange(c*20,(c+1)*20) for c in range(30)];'
            'e=sample_episode(pools,5,2,3,seed=9,index=42);'
            'print(",".join(map(str,np.concatenate(e))))')
    out = subprocess.run([sys.executable, '-c', code],
                         capture_output=True, text=True, check=True)
    here = np.concatenate(sample_episode(POOLS, 5, 2, 3, seed=9, index=42))
    assert out.stdout.strip().splitlines()[-1] == ','.join(map(str, here))


def test_too_few_images_or_classes_raise():
    with pytest.raises(ValueError, match='fewer than 15 shots'):
        sample_episode(POOLS, 5, 15, 10, seed=0, index=0)
    with pytest.raises(ValueError, match='31-way'):
        sample_episode(POOLS, 31, 1, 1, seed=0, index=0)


def test_episodic_dataset_items_and_collate(tiny_omniglot):
    root, _ = tiny_omniglot
    ds = Omniglot(root, split='train',
                  pipeline=[dict(type='ImageToTensor', keys=['img'])])
    episodes = EpisodicDataset(ds, 4, 2, 3, num_episodes=10, seed=5)
    item = episodes[2]
    ep = episodes.episode(2)
    assert item['img'].shape == (4 * 5, 1, 28, 28)
    labels = ds.get_gt_labels()
    np.testing.assert_array_equal(item['indices'],
                                  np.concatenate([ep.support, ep.query]))
    np.testing.assert_array_equal(item['gt_label'], labels[item['indices']])
    # episode label i <-> global class ep.classes[i]
    np.testing.assert_array_equal(ep.classes[item['episode_label']],
                                  item['gt_label'])
    assert item['episode_label'][:8].tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert torch.equal(item['img'][0], ds[int(ep.support[0])]['img'])
    batch = episode_collate([episodes[0], episodes[1]])
    assert batch['img'].shape == (2, 20, 1, 28, 28)
    assert batch['num_ways'] == 4 and batch['num_shots'] == 2
    with pytest.raises(IndexError):
        episodes[10]


def test_episodic_dataset_names_short_classes(tiny_omniglot):
    root, _ = tiny_omniglot
    ds = Omniglot(root, split='train')
    with pytest.raises(ValueError, match=r"fewer than 7 images.*'Back0/"):
        EpisodicDataset(ds, 2, 5, 2, num_episodes=1)
    with pytest.raises(ValueError, match='at least 30 classes'):
        EpisodicDataset(ds, 30, 1, 1, num_episodes=1)
    with pytest.raises(ValueError, match='num_shots must be an int'):
        EpisodicDataset(ds, 2, 0, 1, num_episodes=1)


def test_collate_rejects_mixed_shapes(tiny_omniglot):
    root, _ = tiny_omniglot
    ds = Omniglot(root, split='train',
                  pipeline=[dict(type='ImageToTensor', keys=['img'])])
    a = EpisodicDataset(ds, 2, 1, 1, num_episodes=1)[0]
    b = EpisodicDataset(ds, 3, 1, 1, num_episodes=1)[0]
    with pytest.raises(ValueError, match='mixes episode shapes'):
        episode_collate([a, b])
