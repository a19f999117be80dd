# The CNN baseline on distorted MNIST R (rotated +-90 deg, 28x28).
# python tools/train.py configs/mnist/cnn_r.py
_base_ = [
    './_base_/models/cnn.py', './_base_/datasets/mnist_r.py',
    './_base_/schedule_cpu.py', './_base_/default_runtime.py'
]
model = dict(input_size=(28, 28))
