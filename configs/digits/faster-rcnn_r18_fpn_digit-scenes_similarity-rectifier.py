# Embedded benchmark: the affine rectifier of this folder restricted to the similarity
# family (rotation + isotropic scale + translation, no shear). Rotations are bounded by
# 180 degrees (any orientation reachable), so the same config serves the any-orientation
# scenes. Same localization net, regulariser, data, schedule and budget.
_base_ = ['./faster-rcnn_r18_fpn_digit-scenes_affine-rectifier.py']

model = dict(
    roi_head=dict(
        bbox_roi_extractor=dict(
            family=dict(_delete_=True, type='similarity', scale_range=(0.5, 2.0), max_rotation=180.0,
                        max_translation=0.5))))
