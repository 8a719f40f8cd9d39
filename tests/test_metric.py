import math

import pytest

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


def test_metric_collects_episodes():
    metric = FewShotAccuracy()
    metric.dataset_meta = {}
    metric.process({}, [dict(accuracy=50.0), dict(accuracy=100.0)])
    metric.process({}, [dict(accuracy=75.0)])
    out = metric.evaluate(3)
    assert out['accuracy_mean'] == pytest.approx(75.0)
    assert out['accuracy_ci95'] == pytest.approx(
        1.96 * math.sqrt(1250 / 3) / math.sqrt(3))
    with pytest.raises(ValueError):
        accuracy_summary([])
