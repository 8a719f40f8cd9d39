"""Linear-probe adaptation: multinomial logistic regression on the frozen
support embeddings, solved to convergence on the whole support set."""
import math
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmmtl.registry import MODELS
from .base import BaseAdapter


@MODELS.register_module()
class LinearProbe(BaseAdapter):
    """Fit ``softmax(W f + b)`` to the support features by L-BFGS (float64,
    strong-Wolfe line search) from zero, minimising the mean cross-entropy
    plus ``l2 / 2 * ||W||^2``: a convex problem, so the result does not
    depend on a step count or a learning rate, and a 100-shot or 35-way task
    uses every support image at once.

    Args:
        l2: the L2 weight on W (choose it on validation episodes).
        normalize: L2-normalise the features first (a cosine-like probe;
            the scale of an embedding then does not change the optimum's
            sharpness).
        max_iter: L-BFGS iterations at most.
        tolerance: stop when the largest gradient entry is below this.

    Example:
        >>> import torch
        >>> from mmmtl.models import ProtoNet
        >>> model = ProtoNet(backbone=torch.nn.Flatten())  # pixels = feats
        >>> probe = LinearProbe(l2=0.1, normalize=False)
        >>> support = torch.tensor([-2., -1., 1., 2.]).view(4, 1, 1, 1)
        >>> state = probe.adapt(model, support, torch.tensor([0, 0, 1, 1]),
        ...                     num_ways=2)
        >>> probe.predict(model, state, torch.tensor([[[[3.]]]])).argmax()
        tensor(1)

    References:
        Tian et al., "Rethinking Few-Shot Image Classification: a Good
        Embedding Is All You Need?", ECCV 2020 (logistic regression on a
        pretrained embedding).
    """

    def __init__(self,
                 l2: float = 0.01,
                 normalize: bool = True,
                 max_iter: int = 200,
                 tolerance: float = 1e-6) -> None:
        super().__init__()
        if not (math.isfinite(l2) and l2 >= 0):
            raise ValueError(f'LinearProbe: l2 must be finite and >= 0, '
                             f'got {l2}')
        if not (isinstance(max_iter, int) and max_iter >= 1):
            raise ValueError(f'LinearProbe: max_iter must be an int >= 1, '
                             f'got {max_iter!r}')
        if not tolerance > 0:
            raise ValueError(f'LinearProbe: tolerance must be > 0, got '
                             f'{tolerance}')
        self.l2 = float(l2)
        self.normalize = normalize
        self.max_iter = max_iter
        self.tolerance = float(tolerance)

    def features(self, model: nn.Module, images: Tensor) -> Tensor:
        """The frozen embedding of ``images``, normalised if asked."""
        with torch.no_grad():
            feats = model.extract_feat(images).flatten(1)
        return F.normalize(feats, dim=-1) if self.normalize else feats

    def objective(self, weight: Tensor, bias: Tensor, feats: Tensor,
                  labels: Tensor) -> Tensor:
        """Mean cross-entropy plus ``l2 / 2 * ||weight||^2``."""
        return (F.cross_entropy(feats @ weight.t() + bias, labels)
                + 0.5 * self.l2 * weight.pow(2).sum())

    def fit(self, feats: Tensor, labels: Tensor,
            num_ways: int) -> Dict[str, Tensor]:
        """The minimiser (weight [N, D], bias [N]) for features [S, D]."""
        feats64 = feats.detach().double()
        weight = feats64.new_zeros(num_ways, feats64.shape[1],
                                   requires_grad=True)
        bias = feats64.new_zeros(num_ways, requires_grad=True)
        optimizer = torch.optim.LBFGS([weight, bias],
                                      lr=1.0,
                                      max_iter=self.max_iter,
                                      tolerance_grad=self.tolerance,
                                      tolerance_change=0.0,
                                      history_size=20,
                                      line_search_fn='strong_wolfe')

        def closure() -> Tensor:
            optimizer.zero_grad()
            loss = self.objective(weight, bias, feats64, labels)
            loss.backward()
            return loss

        with torch.enable_grad():
            optimizer.step(closure)
        return dict(weight=weight.detach().to(feats.dtype),
                    bias=bias.detach().to(feats.dtype))

    def adapt(self, model: nn.Module, support: Tensor, labels: Tensor,
              num_ways: int) -> Dict[str, Tensor]:
        return self.fit(self.features(model, support), labels, num_ways)

    def predict(self, model: nn.Module, state: Dict[str, Tensor],
                query: Tensor) -> Tensor:
        feats = self.features(model, query)
        return feats @ state['weight'].t() + state['bias']

    def describe(self) -> str:
        return f'LinearProbe(l2={self.l2:g})'
