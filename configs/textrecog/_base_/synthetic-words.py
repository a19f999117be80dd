# Synthetic word crops written by tools/dataset/make_synthetic_words.py:
#   python tools/dataset/make_synthetic_words.py data/synth_words --split train --num 20000 --seed 0
#   python tools/dataset/make_synthetic_words.py data/synth_words --split test_curved --num 1000 --seed 1 \
#       --distortions curve arc perspective
synth_root = 'data/synth_words'
input_size = (32, 100)  # (h, w): every crop, of any size, is resized to it (ResizeTextCrop)

train_pipeline = [
    dict(type='LoadTextCrop', color_type='color'),
    dict(type='ResizeTextCrop', scale=input_size),
    dict(type='PackTextRecogInputs'),
]
test_pipeline = train_pipeline

train_dataloader = dict(
    batch_size=32, num_workers=1, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='TextRecogJSONDataset', data_root=synth_root, ann_file='textrecog_train.json',
                 data_prefix=dict(img_path=''), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128, num_workers=1, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='TextRecogJSONDataset', data_root=synth_root, ann_file='textrecog_test_curved.json',
                 data_prefix=dict(img_path=''), test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='TextRecogMetric')
test_evaluator = val_evaluator
