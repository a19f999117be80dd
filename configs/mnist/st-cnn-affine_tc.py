# ST-CNN (an affine spatial transformer in front of the CNN) on distorted MNIST TC
# (translated in 60x60 with clutter).
# python tools/train.py configs/mnist/st-cnn-affine_tc.py
_base_ = [
    './_base_/models/st-cnn.py', './_base_/datasets/mnist_tc.py',
    './_base_/schedule_cpu.py', './_base_/default_runtime.py'
]
model = dict(input_size=(60, 60), stn=dict(family=dict(type='affine'), sampling_ratio=2))
