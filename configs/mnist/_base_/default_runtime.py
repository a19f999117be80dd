# Runtime shared by the distorted-MNIST configs (mmengine Runner, mmdet scope).
default_scope = 'mmdet'
custom_imports = dict(imports=['stn_plugin'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # one checkpoint, at the end of training (iter_<max_iters>.pth)
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=-1, save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # tools/test.py --show-dir turns it on: inputs beside their rectified outputs
    visualization=dict(type='DigitVisualizationHook'))

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))

# where logged scalars and images go; TensorBoard (the tensorboard extra):
# --cfg-options visualizer.vis_backends.0.type=TensorboardVisBackend
visualizer = dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
