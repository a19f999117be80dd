# What the real text-spotting benchmarks share: pipelines, loaders and the spotting
# metric. Each benchmark's config beside this file adds its annotation format and
# folders (ann_format, data_root, ann_file, data_prefix) to both datasets.
dataset_type = 'TextSpottingDataset'
scale = (1333, 800)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadTextSpottingAnnotations'),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='PackTextSpottingInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='LoadTextSpottingAnnotations'),
    dict(type='PackTextSpottingInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=2, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(type=dataset_type, filter_cfg=dict(filter_empty_gt=True, min_size=32),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='TextSpottingMetric', iou_threshold=0.5, score_threshold=0.5)
test_evaluator = val_evaluator
