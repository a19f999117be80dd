# Evaluate crnn-tps trained on synthetic words on CUTE80 curved text:
#   python tools/test.py configs/textrecog/benchmarks/crnn-tps_cute80.py work_dirs/crnn-tps/iter_N.pth
# For the LMDB release use {{_base_.cute80_textrecog_test_lmdb}} below instead.
_base_ = ['../crnn-tps_synthetic-words.py', '../_base_/datasets/cute80.py']
test_dataloader = dict(dataset={{_base_.cute80_textrecog_test}})
