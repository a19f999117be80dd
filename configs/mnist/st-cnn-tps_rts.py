# ST-CNN (a thin-plate-spline (4x4 = 16 control points, as in the paper) spatial
# transformer in front of the CNN) on distorted MNIST RTS (rotated +-45 deg, scaled
# 0.7-1.2, placed in 42x42).
# python tools/train.py configs/mnist/st-cnn-tps_rts.py
_base_ = [
    './_base_/models/st-cnn.py', './_base_/datasets/mnist_rts.py',
    './_base_/schedule_cpu.py', './_base_/default_runtime.py'
]
model = dict(
    input_size=(42, 42),
    stn=dict(family=dict(type='tps', grid_shape=(4, 4), control_point_range=2.0),
             sampling_ratio=2))
