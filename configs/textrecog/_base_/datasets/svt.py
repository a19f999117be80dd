# Street View Text (647 test words).
# Fill in the paths. Two standard layouts are supported:
#  * mmocr 1.x (its dataset preparer: `python tools/dataset_converters/prepare_dataset.py svt --task textrecog`):
#    <data_root>/textrecog_test.json with img_path entries relative to <data_root>;
#  * deep-text-recognition-benchmark's LMDB evaluation sets (data_lmdb_release/evaluation/...).
svt_textrecog_data_root = 'data/svt'
svt_textrecog_test = dict(
    type='TextRecogJSONDataset',
    data_root=svt_textrecog_data_root,
    ann_file='textrecog_test.json',
    data_prefix=dict(img_path=''),
    test_mode=True)
svt_textrecog_test_lmdb = dict(type='TextRecogLMDBDataset', ann_file='data/evaluation/SVT', test_mode=True)
