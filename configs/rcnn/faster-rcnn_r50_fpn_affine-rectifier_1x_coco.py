# Faster R-CNN R50-FPN 1x on COCO with an affine RoI rectifier ahead of the bbox head.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['stn_plugin'], allow_failed_imports=False)

rectifier = dict(
    type='AffineRoIRectifier',
    family=dict(type='affine', max_linear_deviation=0.5, max_translation=0.5),
    loc_net=dict(type='conv', channels=(64, ), hidden_dims=(128, )),
    loc_input_size=7,
    sampling_ratio=2,  # the RoIAlign of mmdet's base uses 0 (adaptive); a rectifier needs a fixed ratio
    context_factor=1.2,
    regularizers=[dict(type='AreaBoundLoss', min_scale=0.25, max_scale=2.0, weight=0.1)])

model = dict(roi_head=dict(type='RectifyingRoIHead', bbox_roi_extractor=rectifier))
