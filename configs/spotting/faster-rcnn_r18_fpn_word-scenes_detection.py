# Word detection on word scenes (tools/dataset/make_word_scenes.py): Faster R-CNN with a
# narrow ResNet-18 FPN trained from scratch, one class ('text'), scored by the text
# spotting metric (detection precision / recall / Hmean; its boxes are the polygons).
# The detection half of a spotter -- no recognition branch yet (docs/spotting.md).
# Runs on a CPU.
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
    'mmdet::_base_/default_runtime.py',
    './_base_/datasets/word-scenes.py',
]
custom_imports = dict(imports=['stn_plugin'], allow_failed_imports=False)
channels = 64

model = dict(
    backbone=dict(depth=18, base_channels=32, init_cfg=None, norm_eval=False, frozen_stages=-1),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=channels),
    # words are long: add wide anchors
    rpn_head=dict(in_channels=channels, feat_channels=channels,
                  anchor_generator=dict(ratios=[0.125, 0.25, 0.5, 1.0])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=channels),
        bbox_head=dict(in_channels=channels, fc_out_channels=256, num_classes=1)),
    train_cfg=dict(rpn_proposal=dict(nms_pre=500, max_per_img=200), rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=100), rcnn=dict(max_per_img=30)))

max_iters = 2000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(max_iters * 0.75), int(max_iters * 0.9)], gamma=0.1),
]
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4),
                     clip_grad=dict(max_norm=10, norm_type=2))
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
auto_scale_lr = dict(enable=False, base_batch_size=4)
