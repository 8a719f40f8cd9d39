from .base import BaseFewShotClassifier
from .gradient_meta_learner import GradientMetaLearner
from .maml import MAML
from .protonet import ProtoNet
from .reptile import Reptile
from .transfer import TransferClassifier

__all__ = [
    'BaseFewShotClassifier', 'GradientMetaLearner', 'MAML', 'ProtoNet',
    'Reptile', 'TransferClassifier'
]
