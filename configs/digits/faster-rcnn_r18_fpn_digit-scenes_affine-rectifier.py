# Embedded benchmark: the baseline of this folder with an affine RoI rectifier ahead of the
# bbox head; same data, schedule and budget. Digits are rotated by up to 75 degrees, so
# the linear part may move further from the identity than in the COCO configs.
_base_ = ['./faster-rcnn_r18_fpn_digit-scenes_baseline.py']

model = dict(
    roi_head=dict(
        type='RectifyingRoIHead',
        bbox_roi_extractor=dict(
            type='AffineRoIRectifier',
            family=dict(type='affine', max_linear_deviation=1.5, max_translation=0.5),
            # Cheap on purpose, as this detector is small: a 4x4 pooled view into one
            # hidden layer (a 3x3 conv net on 1024 RoIs cost a third of the baseline's
            # whole step), and one sample per output cell -- digits cover 4-10 feature
            # pixels at stride 4, where mmcv's adaptive RoIAlign also takes one or two
            loc_net=dict(type='mlp', hidden_dims=(128, )),
            loc_input_size=4,
            sampling_ratio=1,
            context_factor=1.2,
            regularizers=[dict(type='AreaBoundLoss', min_scale=0.25, max_scale=2.0, weight=0.1)])))

custom_hooks = [
    dict(type='RectifierStatsHook', interval=50),
    dict(type='RectifierVisualizationHook', interval=200),
]
