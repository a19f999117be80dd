# Embedded benchmark: the baseline of this folder with the tps RoI rectifier ahead of
# the bbox head; same data, schedule and budget.
_base_ = ['./faster-rcnn_r18_fpn_digit-scenes_baseline.py', '../rcnn/_base_/tps-rectifier.py']

model = dict(roi_head=dict(type='RectifyingRoIHead', bbox_roi_extractor={{_base_.rectifier}}))
