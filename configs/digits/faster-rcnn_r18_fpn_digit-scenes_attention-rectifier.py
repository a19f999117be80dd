# Embedded benchmark: the affine rectifier of this folder restricted to the attention
# family (isotropic scale + translation: where to look and how wide, no rotation or
# shear). Same localization net, regulariser, data, schedule and budget.
_base_ = ['./faster-rcnn_r18_fpn_digit-scenes_affine-rectifier.py']

model = dict(
    roi_head=dict(
        bbox_roi_extractor=dict(
            family=dict(_delete_=True, type='attention', scale_range=(0.5, 2.0), max_translation=0.5))))
