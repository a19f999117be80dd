# Faster R-CNN R50-FPN 1x on COCO with a thin-plate-spline RoI rectifier (4x4 control points).
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['stn_plugin'], allow_failed_imports=False)

rectifier = dict(
    type='TPSRoIRectifier',
    num_control_points=16,
    control_point_range=1.5,
    loc_net=dict(type='conv', channels=(64, ), hidden_dims=(128, )),
    loc_input_size=7,
    sampling_ratio=2,
    context_factor=1.2,
    regularizers=[dict(type='BendingEnergyLoss', weight=0.01)])

model = dict(roi_head=dict(type='RectifyingRoIHead', bbox_roi_extractor=rectifier))
