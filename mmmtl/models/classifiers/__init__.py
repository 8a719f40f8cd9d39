from .base import BaseFewShotClassifier
from .gradient_meta_learner import GradientMetaLearner
from .maml import MAML
from .mtl import MTL
from .mtl_scale_shift import MTLScaleShift
from .protonet import ProtoNet
from .reptile import Reptile
from .transfer import TransferClassifier

__all__ = [
    'BaseFewShotClassifier', 'GradientMetaLearner', 'MAML', 'MTL',
    'MTLScaleShift', 'ProtoNet', 'Reptile', 'TransferClassifier'
]
