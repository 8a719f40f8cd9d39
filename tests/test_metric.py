import math

import pytest
import torch
import torch.nn.functional as F

from mmmtl.evaluation import FewShotAccuracy, accuracy_summary


def test_ci95_by_hand():
    accs = [100.0, 80.0, 60.0, 80.0]
    # mean 80; population variance (400 + 0 + 400 + 0) / 4 = 200
    out = accuracy_summary(accs)
    assert out['accuracy_mean'] == pytest.approx(80.0)
    assert out['accuracy_std'] == pytest.approx(math.sqrt(200))
    assert out['accuracy_ci95'] == pytest.approx(
        1.96 * math.sqrt(200) / 2)
    assert out['num_episodes'] == 4


def episode(predicted, truth, ways=2, shots=1):
    """One episode's prediction as forward(mode='predict') returns it."""
    pred_label = torch.tensor(predicted)
    return dict(
        pred_score=F.one_hot(pred_label, ways).float(),
        pred_label=pred_label,
        gt_label=torch.tensor(truth),
        num_ways=ways,
        num_shots=shots)


def test_metric_scores_predictions_against_the_episode_labels():
    metric = FewShotAccuracy(keep_episodes=True)
    metric.dataset_meta = {}
    # 1 of 2, 2 of 2, 3 of 4 queries right
    metric.process({}, [episode([0, 1], [1, 1]), episode([0, 1], [0, 1])])
    metric.process({}, [episode([0, 1, 1, 0], [0, 1, 1, 1])])
    out = metric.evaluate(3)
    assert out['accuracy_mean'] == pytest.approx(75.0)
    assert out['accuracy_ci95'] == pytest.approx(
        1.96 * math.sqrt(1250 / 3) / math.sqrt(3))
    # the paired comparisons' input: every episode, in episode order
    assert out['accuracy_per_episode'] == [50.0, 100.0, 75.0]
    assert list(out) == [
        'accuracy_mean', 'accuracy_std', 'accuracy_ci95', 'num_episodes',
        'accuracy_per_episode'
    ]
    # without keep_episodes (validation), the summary only
    plain = FewShotAccuracy()
    plain.process({}, [episode([0, 1], [1, 1])])
    assert list(plain.evaluate(1)) == [
        'accuracy_mean', 'accuracy_std', 'accuracy_ci95', 'num_episodes'
    ]
    with pytest.raises(ValueError):
        accuracy_summary([])
