# Mask R-CNN R50-FPN 1x on COCO with tps RoI rectifiers ahead of the bbox and mask heads.
# RectifyingRoIHead samples the mask targets through each RoI's transform and maps the
# predicted masks back through its inverse before pasting.
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py', './_base_/tps-rectifier.py']
custom_imports = dict(imports=['stn_plugin'], allow_failed_imports=False)

model = dict(
    roi_head=dict(
        type='RectifyingRoIHead',
        bbox_roi_extractor={{_base_.rectifier}},
        mask_roi_extractor={{_base_.rectifier}}))
