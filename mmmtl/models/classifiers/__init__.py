from .base import BaseFewShotClassifier
from .gradient_meta_learner import GradientMetaLearner
from .maml import MAML
from .mtl import MTL
from .protonet import ProtoNet
from .reptile import Reptile
from .transfer import TransferClassifier

__all__ = [
    'BaseFewShotClassifier', 'GradientMetaLearner', 'MAML', 'MTL', 'ProtoNet',
    'Reptile', 'TransferClassifier'
]
