# Cascade R-CNN R50-FPN 1x on COCO; every stage rectifies its RoIs with an affine rectifier.
_base_ = ['mmdet::cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py', './_base_/affine-rectifier.py']
custom_imports = dict(imports=['stn_plugin'], allow_failed_imports=False)

model = dict(roi_head=dict(type='RectifyingCascadeRoIHead', bbox_roi_extractor={{_base_.rectifier}}))
