# ST-CNN (a projective spatial transformer in front of the CNN) on distorted MNIST R
# (rotated +-90 deg, 28x28).
# python tools/train.py configs/mnist/st-cnn-projective_r.py
_base_ = [
    './_base_/models/st-cnn.py', './_base_/datasets/mnist_r.py',
    './_base_/schedule_cpu.py', './_base_/default_runtime.py'
]
model = dict(
    input_size=(28, 28),
    stn=dict(family=dict(type='projective', max_perspective=0.4)))
