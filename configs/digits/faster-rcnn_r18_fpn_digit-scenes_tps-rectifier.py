# Embedded benchmark: the baseline of this folder with a TPS RoI rectifier (4x4 control
# points, like the R-CNN configs') ahead of the bbox head; same data, schedule and budget.
# The localization net and the sampling are this folder's lean ones (see the affine config).
_base_ = ['./faster-rcnn_r18_fpn_digit-scenes_baseline.py']

model = dict(
    roi_head=dict(
        type='RectifyingRoIHead',
        bbox_roi_extractor=dict(
            type='TPSRoIRectifier',
            num_control_points=16,
            control_point_range=1.5,
            loc_net=dict(type='mlp', hidden_dims=(128, )),
            loc_input_size=4,
            sampling_ratio=1,
            context_factor=1.2,
            regularizers=[dict(type='BendingEnergyLoss', weight=0.01)])))

custom_hooks = [
    dict(type='RectifierStatsHook', interval=50),
    dict(type='RectifierVisualizationHook', interval=200),
]
