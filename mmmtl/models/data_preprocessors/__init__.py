from .batch_color_jitter import BatchColorJitter
from .few_shot_data_preprocessor import FewShotDataPreprocessor

__all__ = ['BatchColorJitter', 'FewShotDataPreprocessor']
