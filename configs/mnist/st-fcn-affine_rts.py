# ST-FCN (an affine spatial transformer in front of the FCN) on distorted MNIST RTS
# (rotated +-45 deg, scaled 0.7-1.2, placed in 42x42).
# python tools/train.py configs/mnist/st-fcn-affine_rts.py
_base_ = [
    './_base_/models/st-fcn.py', './_base_/datasets/mnist_rts.py',
    './_base_/schedule_cpu.py', './_base_/default_runtime.py'
]
model = dict(input_size=(42, 42), stn=dict(family=dict(type='affine'), sampling_ratio=2))
