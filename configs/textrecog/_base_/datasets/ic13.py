# ICDAR 2013 (857-word subset; textrecog_test.json holds all 1015).
# Fill in the paths. Two standard layouts are supported:
#  * mmocr 1.x (its dataset preparer: `python tools/dataset_converters/prepare_dataset.py icdar2013 --task textrecog`):
#    <data_root>/textrecog_test_857.json with img_path entries relative to <data_root>;
#  * deep-text-recognition-benchmark's LMDB evaluation sets (data_lmdb_release/evaluation/...).
ic13_textrecog_data_root = 'data/icdar2013'
ic13_textrecog_test = dict(
    type='TextRecogJSONDataset',
    data_root=ic13_textrecog_data_root,
    ann_file='textrecog_test_857.json',
    data_prefix=dict(img_path=''),
    test_mode=True)
ic13_textrecog_test_lmdb = dict(type='TextRecogLMDBDataset', ann_file='data/evaluation/IC13_857', test_mode=True)
