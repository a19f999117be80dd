# A CPU-friendly fixed budget: iterations of batch 64, Adam, warm-up then cosine
# decay; evaluation once, at the end (the paper reports the final test error; there
# is no model selection on the test set). tools/compare_mnist.py rescales max_iters
# and the scheduler's ends together.
max_iters = 1500
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=max_iters, eta_min=1e-5),
]
# --auto-scale-lr scales lr by (total batch size / base_batch_size)
auto_scale_lr = dict(enable=False, base_batch_size=64)
