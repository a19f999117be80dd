# ST-CNN (an affine spatial transformer in front of the CNN) on distorted MNIST E
# (elastic, 28x28).
# python tools/train.py configs/mnist/st-cnn-affine_e.py
_base_ = [
    './_base_/models/st-cnn.py', './_base_/datasets/mnist_e.py',
    './_base_/schedule_cpu.py', './_base_/default_runtime.py'
]
model = dict(input_size=(28, 28), stn=dict(family=dict(type='affine')))
