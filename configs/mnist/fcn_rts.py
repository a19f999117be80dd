# The FCN baseline on distorted MNIST RTS (rotated +-45 deg, scaled 0.7-1.2, placed in
# 42x42).
# python tools/train.py configs/mnist/fcn_rts.py
_base_ = [
    './_base_/models/fcn.py', './_base_/datasets/mnist_rts.py',
    './_base_/schedule_cpu.py', './_base_/default_runtime.py'
]
model = dict(input_size=(42, 42))
