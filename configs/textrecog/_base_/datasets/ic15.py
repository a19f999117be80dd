# ICDAR 2015 incidental text (1811-word subset; textrecog_test.json holds all 2077).
# Fill in the paths. Two standard layouts are supported:
#  * mmocr 1.x (its dataset preparer: `python tools/dataset_converters/prepare_dataset.py icdar2015 --task textrecog`):
#    <data_root>/textrecog_test_1811.json with img_path entries relative to <data_root>;
#  * deep-text-recognition-benchmark's LMDB evaluation sets (data_lmdb_release/evaluation/...).
ic15_textrecog_data_root = 'data/icdar2015'
ic15_textrecog_test = dict(
    type='TextRecogJSONDataset',
    data_root=ic15_textrecog_data_root,
    ann_file='textrecog_test_1811.json',
    data_prefix=dict(img_path=''),
    test_mode=True)
ic15_textrecog_test_lmdb = dict(type='TextRecogLMDBDataset', ann_file='data/evaluation/IC15_1811', test_mode=True)
