"""The prototype head of Prototypical Networks (Snell et al.,
"Prototypical Networks for Few-shot Learning", NeurIPS 2017): class means
of support features, and the scores of queries against them. The class
means also initialise fine-tuned heads (``prototype_params`` of the linear
and cosine heads)."""
import torch.nn.functional as F
from torch import Tensor


def class_means(feats: Tensor, labels: Tensor, num_ways: int) -> Tensor:
    """Prototypes [N, D]: the mean support feature of each class.

    Example:
        >>> import torch
        >>> feats = torch.tensor([[0., 2.], [2., 4.], [5., 5.]])
        >>> class_means(feats, torch.tensor([0, 0, 1]), 2)
        tensor([[1., 3.],
                [5., 5.]])
    """
    onehot = F.one_hot(labels, num_ways).to(feats.dtype)
    return (onehot.t() @ feats) / onehot.sum(0).unsqueeze(1)


def neg_sq_distances(feats: Tensor, prototypes: Tensor) -> Tensor:
    """Scores [Q, N]: minus the squared Euclidean distance to each
    prototype."""
    return -(feats.unsqueeze(1) - prototypes.unsqueeze(0)).pow(2).sum(-1)
