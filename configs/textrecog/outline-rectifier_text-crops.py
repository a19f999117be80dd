# The text rectifier for words and text lines (stn_plugin.rectify, TextRectifier's default):
# a TextOutlineNet that sees each crop at its own aspect and predicts the text's top and
# bottom edges, supervised by the outlines the generator knows exactly (no recognizer).
# Training: crops drawn on the fly from 13 font families and 7 photos (seed 0); validation:
# 600 crops in the 3 held-out families and 4 held-out photos (seed 1), every 500 iterations.
# Export the best checkpoint with tools/export_text_rectifier.py.
_base_ = ['_base_/schedule_cpu.py']
custom_imports = dict(imports=['stn_plugin'], allow_failed_imports=False)
default_scope = 'mmdet'

max_iters = 5000
model = dict(type='TextOutlineRectifier',
             net=dict(height=32, max_width=512, channels=(12, 24, 48, 64), context=64))

train_dataloader = dict(
    batch_size=32, num_workers=1, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=False),  # the samples are random already
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='TextCropOutlineDataset', num_samples=10_000_000, seed=0, split='training'))
val_dataloader = dict(
    batch_size=50, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='TextCropOutlineDataset', num_samples=600, seed=1, split='held_out'))
val_evaluator = dict(type='TextOutlineMetric')
test_dataloader = val_dataloader
test_evaluator = val_evaluator

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=2e-3, weight_decay=1e-4),
                     clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=200),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=200, end=max_iters, T_max=max_iters - 200, eta_min=2e-5),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=500)
default_hooks = dict(
    _delete_=True,  # the base's recognition visualisation hook does not apply
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=500, max_keep_ckpts=2,
                    save_best='outline/error', rule='less'),
    sampler_seed=dict(type='DistSamplerSeedHook'))
