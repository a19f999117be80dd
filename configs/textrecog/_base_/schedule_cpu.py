# Short iteration-based schedule for CPU training (the recipe of docs/textrecog.md):
# Adam 2e-3, 100 warm-up iterations, constant, linear decay over the last 20%,
# gradient clipping. A cosine decay from 1e-3 over 2000 iterations did not leave the
# CTC plateau on the synthetic words.
max_iters = 9000
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=2e-3), clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type='LinearLR', start_factor=1.0, end_factor=0.05, by_epoch=False, begin=int(max_iters * 0.8), end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # off until tools/test.py --show / --show-dir switches it on: crop, rectified crop, prediction, ground truth
    visualization=dict(type='TextRecogVisualizationHook'),
)
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='gloo'))
# where logged scalars and images go; TensorBoard (the tensorboard extra):
# --cfg-options visualizer.vis_backends.0.type=TensorboardVisBackend
visualizer = dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
