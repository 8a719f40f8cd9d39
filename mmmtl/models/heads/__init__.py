from .cosine_head import CosineHead
from .linear_head import LinearHead

__all__ = ['CosineHead', 'LinearHead']
