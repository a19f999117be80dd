# Mask R-CNN R50-FPN 1x on COCO with affine RoI rectifiers ahead of the bbox and mask heads.
# RectifyingRoIHead samples the mask targets through each RoI's transform and maps the
# predicted masks back through its inverse before pasting.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['stn_plugin'], allow_failed_imports=False)

rectifier = dict(
    type='AffineRoIRectifier',
    family=dict(type='affine', max_linear_deviation=0.5, max_translation=0.5),
    loc_net=dict(type='conv', channels=(64, ), hidden_dims=(128, )),
    loc_input_size=7,
    sampling_ratio=2,
    context_factor=1.2,
    regularizers=[dict(type='AreaBoundLoss', min_scale=0.25, max_scale=2.0, weight=0.1)])

model = dict(
    roi_head=dict(
        type='RectifyingRoIHead',
        bbox_roi_extractor=rectifier,
        mask_roi_extractor=rectifier))
