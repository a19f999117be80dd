# ICDAR 2015 incidental scene text (Challenge 4), in its own format: one gt_img_N.txt
# per image ('x1,y1,...,x4,y4,transcription', '###' = don't care). The folders are
# placeholders for the official archives unpacked under data_root; point them at your
# copy, e.g. --cfg-options train_dataloader.dataset.data_root=/data/icdar2015/
_base_ = './text-benchmark.py'
data_root = 'data/icdar2015/'
train_dataloader = dict(dataset=dict(ann_format='icdar2015', data_root=data_root, ann_file='ch4_training_localization_transcription_gt/',
                                     data_prefix=dict(img='ch4_training_images/')))
val_dataloader = dict(dataset=dict(ann_format='icdar2015', data_root=data_root, ann_file='Challenge4_Test_Task1_GT/',
                                   data_prefix=dict(img='ch4_test_images/')))
test_dataloader = val_dataloader
