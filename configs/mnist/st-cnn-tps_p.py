# ST-CNN (a thin-plate-spline (4x4 = 16 control points, as in the paper) spatial
# transformer in front of the CNN) on distorted MNIST P (projective, 28x28).
# python tools/train.py configs/mnist/st-cnn-tps_p.py
_base_ = [
    './_base_/models/st-cnn.py', './_base_/datasets/mnist_p.py',
    './_base_/schedule_cpu.py', './_base_/default_runtime.py'
]
model = dict(
    input_size=(28, 28),
    stn=dict(family=dict(type='tps', grid_shape=(4, 4), control_point_range=2.0)))
