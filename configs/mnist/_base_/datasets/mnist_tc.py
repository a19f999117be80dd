# Distorted MNIST, variant TC: the shared settings of distorted_mnist.py for this variant.
_base_ = './distorted_mnist.py'
variant = 'TC'
train_dataloader = dict(dataset=dict(variant=variant))
val_dataloader = dict(dataset=dict(variant=variant))
test_dataloader = dict(dataset=dict(variant=variant))
