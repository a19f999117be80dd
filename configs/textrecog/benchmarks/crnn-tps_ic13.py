# Evaluate crnn-tps trained on synthetic words on ICDAR 2013:
#   python tools/test.py configs/textrecog/benchmarks/crnn-tps_ic13.py work_dirs/crnn-tps/iter_N.pth
# For the LMDB release use {{_base_.ic13_textrecog_test_lmdb}} below instead.
_base_ = ['../crnn-tps_synthetic-words.py', '../_base_/datasets/ic13.py']
test_dataloader = dict(dataset={{_base_.ic13_textrecog_test}})
