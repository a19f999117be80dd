# Embedded benchmark, context-only ablation: the baseline of this folder with every RoI
# enlarged about its centre to 1.4x the box's area (sides x sqrt(1.4)) and no
# localization net -- what the RoI rectifiers' learned area scale would give without
# any warping (affine: ~2x, TPS: ~1.3-1.4x). Same data, schedule and budget.
_base_ = ['./faster-rcnn_r18_fpn_digit-scenes_baseline.py']

model = dict(roi_head=dict(bbox_roi_extractor=dict(type='EnlargedRoIExtractor', area_scale=1.4)))
