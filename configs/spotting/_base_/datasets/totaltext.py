# Total-Text (curved text), in its own .txt format: one poly_gt_imgN.txt per image
# ('x: [[...]], y: [[...]], ornt: [...], transcriptions: [...]', '#' = don't care).
# The folders are placeholders: point them at your copy, e.g.
# --cfg-options train_dataloader.dataset.data_root=/data/totaltext/
_base_ = './text-benchmark.py'
data_root = 'data/totaltext/'
train_dataloader = dict(dataset=dict(ann_format='totaltext', data_root=data_root, ann_file='Groundtruth/Text/Train/',
                                     data_prefix=dict(img='Images/Train/')))
val_dataloader = dict(dataset=dict(ann_format='totaltext', data_root=data_root, ann_file='Groundtruth/Text/Test/',
                                   data_prefix=dict(img='Images/Test/')))
test_dataloader = val_dataloader
