# Word scenes (make them with tools/dataset/make_word_scenes.py): COCO files whose
# annotations carry each word's polygon and transcription; read by TextSpottingDataset.
# No flips and no instance-dropping crops: a mirrored word is not that word, and the
# transcriptions must stay aligned with the boxes.
dataset_type = 'TextSpottingDataset'
data_root = 'data/word_scenes/'
image_size = 320

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadTextSpottingAnnotations'),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='PackTextSpottingInputs'),
]
# annotations loaded after Resize stay in the original image's pixels, where the
# predictions are rescaled to: the metric compares the two there
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='LoadTextSpottingAnnotations'),
    dict(type='PackTextSpottingInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(type=dataset_type, ann_format='coco', data_root=data_root, ann_file='annotations/train.json',
                 data_prefix=dict(img='train/'), filter_cfg=dict(filter_empty_gt=True, min_size=32),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, ann_format='coco', data_root=data_root, ann_file='annotations/val.json',
                 data_prefix=dict(img='val/'), test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='TextSpottingMetric', iou_threshold=0.5, score_threshold=0.5)
test_evaluator = val_evaluator
