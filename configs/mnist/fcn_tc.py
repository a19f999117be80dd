# The FCN baseline on distorted MNIST TC (translated in 60x60 with clutter).
# python tools/train.py configs/mnist/fcn_tc.py
_base_ = [
    './_base_/models/fcn.py', './_base_/datasets/mnist_tc.py',
    './_base_/schedule_cpu.py', './_base_/default_runtime.py'
]
model = dict(input_size=(60, 60))
