from .conv4 import Conv4
from .mmpretrain_backbone import MMPretrainBackbone
from .resnet12 import ResNet12
from .wrn import WRN

__all__ = ['Conv4', 'ResNet12', 'WRN', 'MMPretrainBackbone']
