# Evaluate crnn trained on synthetic words on CUTE80 curved text:
#   python tools/test.py configs/textrecog/benchmarks/crnn_cute80.py work_dirs/crnn/iter_N.pth
# For the LMDB release use {{_base_.cute80_textrecog_test_lmdb}} below instead.
_base_ = ['../crnn_synthetic-words.py', '../_base_/datasets/cute80.py']
test_dataloader = dict(dataset={{_base_.cute80_textrecog_test}})
