from .cosine_head import CosineHead
from .linear_head import LinearHead
from .prototype import class_means, neg_sq_distances

__all__ = ['CosineHead', 'LinearHead', 'class_means', 'neg_sq_distances']
