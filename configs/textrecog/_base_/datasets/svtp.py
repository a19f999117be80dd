# SVT-Perspective (645 test words).
# Fill in the paths. Two standard layouts are supported:
#  * mmocr 1.x (its dataset preparer: `python tools/dataset_converters/prepare_dataset.py svtp --task textrecog`):
#    <data_root>/textrecog_test.json with img_path entries relative to <data_root>;
#  * deep-text-recognition-benchmark's LMDB evaluation sets (data_lmdb_release/evaluation/...).
svtp_textrecog_data_root = 'data/svtp'
svtp_textrecog_test = dict(
    type='TextRecogJSONDataset',
    data_root=svtp_textrecog_data_root,
    ann_file='textrecog_test.json',
    data_prefix=dict(img_path=''),
    test_mode=True)
svtp_textrecog_test_lmdb = dict(type='TextRecogLMDBDataset', ann_file='data/evaluation/SVTP', test_mode=True)
