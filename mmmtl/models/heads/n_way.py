"""Building the N-way head of a meta-learner from its config."""
import torch.nn as nn

from mmmtl.registry import MODELS


def build_n_way_head(cfg: dict, num_ways: int, where: str) -> nn.Module:
    """Build a head config with ``num_classes = num_ways`` (set when absent;
    a different value is an error naming ``where``, e.g. ``'MAML: head'``)."""
    cfg = dict(cfg)
    if cfg.setdefault('num_classes', num_ways) != num_ways:
        raise ValueError(f"{where}.num_classes ({cfg['num_classes']}) "
                         f'differs from num_ways ({num_ways})')
    return MODELS.build(cfg)
