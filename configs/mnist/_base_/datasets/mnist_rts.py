# Distorted MNIST, variant RTS: the shared settings of distorted_mnist.py for this variant.
_base_ = './distorted_mnist.py'
variant = 'RTS'
train_dataloader = dict(dataset=dict(variant=variant))
val_dataloader = dict(dataset=dict(variant=variant))
test_dataloader = dict(dataset=dict(variant=variant))
