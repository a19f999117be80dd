# Faster R-CNN R50-FPN 1x on COCO with the affine RoI rectifier ahead of the bbox head.
_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py', './_base_/affine-rectifier.py']
custom_imports = dict(imports=['stn_plugin'], allow_failed_imports=False)

model = dict(roi_head=dict(type='RectifyingRoIHead', bbox_roi_extractor={{_base_.rectifier}}))
