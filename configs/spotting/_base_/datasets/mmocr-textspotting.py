# Any set prepared by mmocr's dataset preparer (tools/dataset_converters/prepare_dataset.py
# in mmocr 1.x): textspotting_{train,test}.json (or textdet_*.json, whose instances carry
# no 'text') with img_path relative to data_root. The names are placeholders: point them
# at your copy, e.g. --cfg-options train_dataloader.dataset.data_root=/data/ctw1500/
_base_ = './text-benchmark.py'
data_root = 'data/mmocr_dataset/'
train_dataloader = dict(dataset=dict(ann_format='mmocr', data_root=data_root, ann_file='textspotting_train.json',
                                     data_prefix=dict(img='')))
val_dataloader = dict(dataset=dict(ann_format='mmocr', data_root=data_root, ann_file='textspotting_test.json',
                                   data_prefix=dict(img='')))
test_dataloader = val_dataloader
