from .autocast_optim_wrapper import AutocastOptimWrapper, native_bf16

__all__ = ['AutocastOptimWrapper', 'native_bf16']
