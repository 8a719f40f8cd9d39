from .base import BaseFewShotClassifier
from .transfer import TransferClassifier

__all__ = ['BaseFewShotClassifier', 'TransferClassifier']
