# The FCN baseline on distorted MNIST P (projective, 28x28).
# python tools/train.py configs/mnist/fcn_p.py
_base_ = [
    './_base_/models/fcn.py', './_base_/datasets/mnist_p.py',
    './_base_/schedule_cpu.py', './_base_/default_runtime.py'
]
model = dict(input_size=(28, 28))
